-- The decision the engine last computed was saved on every change but never needed: a restart decides again
-- from the persisted inputs, and what Slack holds is in applied_status and in_flight. Dropping it takes one
-- commit off the way from a phone's state to Slack.
ALTER TABLE sync_state DROP COLUMN desired;
ALTER TABLE sync_state DROP COLUMN desired_at;
