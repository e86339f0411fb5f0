DROP TABLE token_signing_keys;
--bun:split
ALTER TABLE notification_endpoints DROP COLUMN dialect;
--bun:split
ALTER TABLE plans DROP COLUMN change_approval_window;
--bun:split
ALTER TABLE plans DROP COLUMN changes_require_publisher;
--bun:split
ALTER TABLE subscriptions DROP COLUMN pending_change;
--bun:split
DROP INDEX operations_by_subscription;
--bun:split
DROP INDEX operations_by_id;
--bun:split
DROP TABLE operations;
