-- Caret Desktop's first schema. Times are Unix milliseconds (UTC). JSON columns hold serde_json of the
-- caret-core types named beside them. No column ever holds a Slack token or a device token.

-- A connected Slack workspace (one user in one team). The token lives in the OS keyring, keyed by id.
CREATE TABLE workspaces (
    id                INTEGER PRIMARY KEY,
    team_id           TEXT    NOT NULL,
    user_id           TEXT    NOT NULL,
    team_name         TEXT    NOT NULL,
    user_name         TEXT    NOT NULL,
    settings          TEXT    NOT NULL,           -- WorkspaceSettings
    connected         INTEGER NOT NULL DEFAULT 1, -- 0 once Slack refused the token
    disconnect_reason TEXT,
    created_at        INTEGER NOT NULL,
    UNIQUE (team_id, user_id)
);

-- What the engine wants in Slack and what it knows is there, per workspace, so that a restart (even after
-- kill -9 in the middle of a call) converges without losing a change or repeating one.
CREATE TABLE sync_state (
    workspace_id     INTEGER PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    desired          TEXT,    -- the Decision last computed
    desired_at       INTEGER,
    applied_status   TEXT,    -- the profile status we last set and Slack confirmed (null: none of ours)
    applied_presence TEXT,    -- "auto" | "away" as last set by us
    applied_at       INTEGER,
    in_flight        TEXT,    -- a write started but not confirmed: after a crash, Slack may or may not have it
    in_flight_at     INTEGER
);

-- The latest inputs (phone state, manual status, pause), so that a restart knows what is desired.
CREATE TABLE inputs (
    key        TEXT PRIMARY KEY,
    value      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);

-- One row per input event and per Slack call.
CREATE TABLE sync_log (
    id           INTEGER PRIMARY KEY,
    at           INTEGER NOT NULL,
    kind         TEXT    NOT NULL,  -- "input" | "call" | "note"
    source       TEXT    NOT NULL,  -- "phone" | "tray" | "shortcut" | "cli" | "ui" | "engine"
    workspace_id INTEGER,           -- no foreign key: the log outlives a disconnected workspace
    workspace    TEXT,              -- the team name at the time, for reading the log later
    state        TEXT,
    policy       TEXT,
    method       TEXT,
    sent         TEXT,              -- what was sent (status fields or presence), never a token
    outcome      TEXT    NOT NULL,  -- "ok", an error code, or why nothing was sent
    latency_ms   INTEGER,
    retries      INTEGER NOT NULL DEFAULT 0,
    error        TEXT
);
CREATE INDEX sync_log_by_time ON sync_log (at);
CREATE INDEX sync_log_by_workspace ON sync_log (workspace_id, at);
