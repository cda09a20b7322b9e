-- E-ID accounts of foreigners and organisations (Decree 69/2024/NĐ-CP art. 7): not in the
-- population database, kept by the electronic identification system (mock_registry.eid_subjects).
CREATE TABLE eid_accounts (
    identifier text  PRIMARY KEY,  -- foreigner's identification number (12 digits) or tax code (10)
    kind       text  NOT NULL,     -- foreigner | organisation
    record     bytea NOT NULL      -- JSON of the account record
);
