-- What Slack granted each workspace's token (a comma-separated list of scopes, as auth.test tells it; NULL:
-- not known yet, for workspaces connected before this column), and whether the user asked for security
-- notices by direct message (off by default).
ALTER TABLE workspaces ADD COLUMN granted_scopes TEXT;
ALTER TABLE workspaces ADD COLUMN security_notices INTEGER NOT NULL DEFAULT 0;
