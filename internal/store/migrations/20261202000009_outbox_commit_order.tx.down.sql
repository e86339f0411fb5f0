DROP INDEX notifications_outbox;
--bun:split
ALTER TABLE notifications DROP COLUMN tx_id;
