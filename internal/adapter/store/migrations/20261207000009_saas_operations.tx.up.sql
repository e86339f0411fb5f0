-- Issue 27: Microsoft's SaaS Fulfillment v2 beside the native dialect.
-- The operations of a subscription, one row per state an operation took
-- (the step that created it, the step that settled it): written in the
-- step's transaction, keyed by the step like every row a step writes, so a
-- discarded workflow task's rows are replaced as theirs are (fence).
CREATE TABLE operations (
    key             TEXT PRIMARY KEY,
    operation_id    TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    publisher_id    TEXT NOT NULL,
    offer_id        TEXT NOT NULL,
    action          TEXT NOT NULL,
    status          TEXT NOT NULL,
    plan_id         TEXT NOT NULL,
    quantity        INTEGER NOT NULL,
    source          TEXT NOT NULL,
    reason          TEXT NOT NULL,
    requested_at    {{.Timestamp}} NOT NULL,
    created_at      {{.Timestamp}} NOT NULL,
    step_version    BIGINT NOT NULL,
    fence           TEXT NOT NULL
);
--bun:split
CREATE INDEX operations_by_id ON operations (operation_id, step_version);
--bun:split
CREATE INDEX operations_by_subscription ON operations (subscription_id, step_version);
--bun:split
-- The change that waits for the publisher (JSON), "" for none.
ALTER TABLE subscriptions ADD COLUMN pending_change TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE plans ADD COLUMN changes_require_publisher BOOLEAN NOT NULL DEFAULT FALSE;
--bun:split
ALTER TABLE plans ADD COLUMN change_approval_window TEXT NOT NULL DEFAULT '';
--bun:split
-- Which shape a publisher's notifications take: "native" or "microsoft".
ALTER TABLE notification_endpoints ADD COLUMN dialect TEXT NOT NULL DEFAULT 'native';
--bun:split
-- The keys that sign the access tokens of /oauth2/token, newest signs;
-- the JWKS publishes every key young enough to have signed a live token.
CREATE TABLE token_signing_keys (
    kid                TEXT PRIMARY KEY,
    sealed_private_key {{.Bytes}} NOT NULL,
    created_at         {{.Timestamp}} NOT NULL
);
