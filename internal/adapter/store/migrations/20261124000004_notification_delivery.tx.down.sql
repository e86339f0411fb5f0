DROP INDEX notifications_recipient;
--bun:split
ALTER TABLE notifications DROP COLUMN last_error;
--bun:split
ALTER TABLE notifications DROP COLUMN attempts;
--bun:split
DROP TABLE notification_attempts;
--bun:split
DROP TABLE notification_endpoints;
