-- The population (CSDLQG về dân cư): one row per citizen, the record kept as the JSON bytes of
-- its wire representation (bytea returns them unchanged: lookups are byte-identical with SQLite).
CREATE TABLE citizens (
    pin          bigint   NOT NULL,  -- số định danh cá nhân as a number (12 digits; zeros restored)
    cmnd         text,               -- số CMND 9 số
    household_id bigint,             -- hộ gia đình
    birth_year   smallint NOT NULL,
    record       bytea    NOT NULL   -- JSON of the wire record
);
-- Records are about 2 KB: compress every one inline (MAIN keeps it in the heap row, a target of
-- 128 bytes makes PostgreSQL compress it) instead of sending half of them to the TOAST table.
-- A lookup is then one index seek and one heap page; lz4 decompresses 2 KB in about a microsecond.
ALTER TABLE citizens ALTER COLUMN record SET STORAGE MAIN;
ALTER TABLE citizens ALTER COLUMN record SET COMPRESSION lz4;
ALTER TABLE citizens SET (toast_tuple_target = 128);

-- Built after bulk loads (see PostgresCitizenStore.begin_bulk / finish_load): same definitions.
CREATE UNIQUE INDEX citizens_pin ON citizens (pin);
CREATE INDEX citizens_cmnd ON citizens (cmnd) WHERE cmnd IS NOT NULL;
CREATE INDEX citizens_household ON citizens (household_id);

CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL);
