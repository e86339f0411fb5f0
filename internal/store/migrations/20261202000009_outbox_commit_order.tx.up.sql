-- Postgres hands out notification ids when rows are inserted, not when
-- they commit: a puller paging "after the last id" could move past a row
-- still being committed and never see it. Each row records the transaction
-- that wrote it; the outbox lists only rows of transactions older than
-- every one still running, in (tx_id, id) order, so what a puller has
-- passed never grows. SQLite has one writer at a time: its rows keep 0 and
-- commit in id order.
ALTER TABLE notifications ADD COLUMN tx_id BIGINT NOT NULL DEFAULT 0;
{{- if eq .Name "pg"}}
--bun:split
ALTER TABLE notifications ALTER COLUMN tx_id SET DEFAULT txid_current();
{{- end}}
--bun:split
CREATE INDEX notifications_outbox ON notifications (recipient_kind, recipient_id, tx_id, id);
