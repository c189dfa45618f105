-- The Do Not Disturb snooze the engine started (Slack's end for it, the end asked for) and one being started,
-- as JSON: a restart ends the snooze it started, and never one the person started themselves.
ALTER TABLE sync_state ADD COLUMN snooze TEXT;
