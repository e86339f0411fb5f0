CREATE TABLE notification_endpoints (
    owner_kind    TEXT NOT NULL,
    owner_id      TEXT NOT NULL,
    url           TEXT NOT NULL,
    sealed_secret {{.Bytes}},
    updated_at    {{.Timestamp}} NOT NULL,
    PRIMARY KEY (owner_kind, owner_id)
);
--bun:split
CREATE TABLE notification_attempts (
    id              {{.AutoID}},
    notification_id BIGINT NOT NULL,
    attempt         INTEGER NOT NULL,
    url             TEXT NOT NULL,
    status_code     INTEGER NOT NULL,
    error           TEXT NOT NULL,
    duration_ms     BIGINT NOT NULL,
    created_at      {{.Timestamp}} NOT NULL
);
--bun:split
CREATE INDEX notification_attempts_notification ON notification_attempts (notification_id, id);
--bun:split
ALTER TABLE notifications ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
--bun:split
ALTER TABLE notifications ADD COLUMN last_error TEXT NOT NULL DEFAULT '';
--bun:split
CREATE INDEX notifications_recipient ON notifications (recipient_kind, recipient_id, id);
