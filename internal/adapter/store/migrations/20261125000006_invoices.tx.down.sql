DROP TABLE invoice_lines;
--bun:split
DROP TABLE invoices;
--bun:split
ALTER TABLE subscriptions DROP COLUMN lots;
--bun:split
DROP INDEX charges_unbilled;
--bun:split
ALTER TABLE charges DROP COLUMN invoice_id;
--bun:split
ALTER TABLE charges DROP COLUMN posted_at;
--bun:split
ALTER TABLE charges DROP COLUMN customer_id;
--bun:split
ALTER TABLE charges DROP COLUMN unit_price;
--bun:split
ALTER TABLE charges DROP COLUMN reason;
