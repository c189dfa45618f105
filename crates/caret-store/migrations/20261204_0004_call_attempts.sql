-- Every Slack write the engine is about to make (users.profile.set, users.setPresence), recorded before it is
-- sent, so that a restart (even a kill -9 during the call) rebuilds the per-minute budget instead of granting
-- a fresh burst. Only the last minutes matter: older rows are deleted as new ones come.
CREATE TABLE call_attempts (
    workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    method       TEXT    NOT NULL,
    at           INTEGER NOT NULL  -- Unix milliseconds
);
CREATE INDEX call_attempts_by_method ON call_attempts (workspace_id, method, at);
