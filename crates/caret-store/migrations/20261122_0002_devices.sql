-- Paired phones. The device token itself is never stored: only its SHA-256, enough to check a phone's
-- token and useless to anyone who reads this file.
CREATE TABLE devices (
    id         TEXT PRIMARY KEY,   -- "d_" + 16 hex digits, chosen by the desktop at pairing
    name       TEXT    NOT NULL,
    token_hash BLOB    NOT NULL,   -- SHA-256 of the 256-bit device token
    paired_at  INTEGER NOT NULL,
    last_seen  INTEGER,
    last_seq   INTEGER,            -- the last state sequence number accepted from it
    revoked_at INTEGER             -- set: every token check fails, also on an open connection
);
