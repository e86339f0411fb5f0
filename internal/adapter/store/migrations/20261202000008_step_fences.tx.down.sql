DROP INDEX notifications_subscription_step;
--bun:split
ALTER TABLE notifications DROP COLUMN run_id;
--bun:split
ALTER TABLE notifications DROP COLUMN workflow_id;
--bun:split
ALTER TABLE notifications DROP COLUMN fence;
--bun:split
ALTER TABLE notifications DROP COLUMN step_version;
--bun:split
ALTER TABLE charges DROP COLUMN fence;
--bun:split
ALTER TABLE charges DROP COLUMN step_version;
--bun:split
ALTER TABLE subscription_events DROP COLUMN fence;
--bun:split
ALTER TABLE subscription_events DROP COLUMN step_version;
--bun:split
ALTER TABLE subscriptions DROP COLUMN fence;
