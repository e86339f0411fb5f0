DROP TABLE usage_refusals;
--bun:split
DROP TABLE usage_events;
--bun:split
ALTER TABLE invoice_lines DROP COLUMN usage_units;
--bun:split
ALTER TABLE invoice_lines DROP COLUMN dimension;
--bun:split
ALTER TABLE charges DROP COLUMN usage_units;
--bun:split
ALTER TABLE charges DROP COLUMN dimension;
--bun:split
ALTER TABLE subscriptions DROP COLUMN metering;
--bun:split
ALTER TABLE plans DROP COLUMN flat_rate;
--bun:split
ALTER TABLE plans DROP COLUMN dimensions;
