-- The write path (civil-status events): an overlay over the seeded citizens table, which stays
-- read-only. Same tables and column order as the SQLite store (mock_registry/store/
-- sqlite_events.py): dump_events / load_events exchange rows positionally between backends.

CREATE TABLE overlay (             -- records changed by events: shadow citizens by PIN
    pin          bigint   PRIMARY KEY,
    cmnd         text,
    household_id bigint,
    birth_year   smallint NOT NULL,
    record       bytea    NOT NULL,
    seq          bigint   NOT NULL  -- the change that last wrote the row
);
-- As citizens.record: compressed inline, so an overlay lookup is one index seek and one page.
ALTER TABLE overlay ALTER COLUMN record SET STORAGE MAIN;
ALTER TABLE overlay ALTER COLUMN record SET COMPRESSION lz4;
ALTER TABLE overlay SET (toast_tuple_target = 128);
CREATE INDEX overlay_household ON overlay (household_id);
CREATE INDEX overlay_cmnd ON overlay (cmnd) WHERE cmnd IS NOT NULL;

CREATE TABLE changes (             -- the change feed: cursor = commit order, gap-free
    seq  bigint PRIMARY KEY,
    type text   NOT NULL,
    pin  text   NOT NULL,
    time text   COLLATE "C" NOT NULL,  -- RFC 3339 UTC, microseconds: byte order is time order
    item bytea  NOT NULL           -- the feed item's JSON, cursor included
);
CREATE INDEX changes_time ON changes (time);

CREATE TABLE idempotency (         -- request id -> first answer
    key         text    PRIMARY KEY,
    fingerprint text    NOT NULL,
    status      integer NOT NULL,
    body        bytea   NOT NULL,
    seq         bigint  NOT NULL
);

CREATE TABLE pin_serials (head text PRIMARY KEY, next bigint NOT NULL);
CREATE TABLE births (key text PRIMARY KEY, pin text NOT NULL);
CREATE TABLE overlay_meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE snapshots (name text PRIMARY KEY, data bytea NOT NULL);
