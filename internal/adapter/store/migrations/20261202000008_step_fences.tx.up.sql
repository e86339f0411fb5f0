-- A step committed inside a workflow task (a local activity) may belong to a
-- task that is later discarded; its retry commits the same version again.
-- Each row a step writes names the step (step_version) and the task attempt
-- that wrote it (fence: run, history length and start time of the task,
-- encoded to compare as text), so the retry can replace what the discarded
-- attempt wrote and a late write of that attempt can be refused. "" is a
-- step committed by an activity scheduled in the history: never discarded.
ALTER TABLE subscriptions ADD COLUMN fence TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE subscription_events ADD COLUMN step_version BIGINT NOT NULL DEFAULT 0;
--bun:split
ALTER TABLE subscription_events ADD COLUMN fence TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE charges ADD COLUMN step_version BIGINT NOT NULL DEFAULT 0;
--bun:split
ALTER TABLE charges ADD COLUMN fence TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE notifications ADD COLUMN step_version BIGINT NOT NULL DEFAULT 0;
--bun:split
ALTER TABLE notifications ADD COLUMN fence TEXT NOT NULL DEFAULT '';
--bun:split
-- Where the delivery looks for the step in the workflow's history.
ALTER TABLE notifications ADD COLUMN workflow_id TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE notifications ADD COLUMN run_id TEXT NOT NULL DEFAULT '';
--bun:split
CREATE INDEX notifications_subscription_step ON notifications (subscription_id, step_version);
