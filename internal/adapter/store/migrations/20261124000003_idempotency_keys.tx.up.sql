CREATE TABLE idempotency_keys (
    partner_id   TEXT NOT NULL,
    key          TEXT NOT NULL,
    scope        TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status_code  INTEGER NOT NULL,
    body         {{.Bytes}} NOT NULL,
    created_at   {{.Timestamp}} NOT NULL,
    PRIMARY KEY (partner_id, key)
);
