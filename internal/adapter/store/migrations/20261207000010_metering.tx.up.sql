-- Issue 28: metered offers.
-- What a plan meters (JSON of catalog.Dimension), and whether it has no
-- licence count.
ALTER TABLE plans ADD COLUMN dimensions TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE plans ADD COLUMN flat_rate BOOLEAN NOT NULL DEFAULT FALSE;
--bun:split
-- A metered subscription's dimensions and the usage period it counts in
-- now (JSON of meteringModel), "" for a plan of licences only: usage is
-- accepted against them, and the usage view shows the period.
ALTER TABLE subscriptions ADD COLUMN metering TEXT NOT NULL DEFAULT '';
--bun:split
-- A usage line's dimension and units beyond the included quantity (in
-- millionths of a unit).
ALTER TABLE charges ADD COLUMN dimension TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE charges ADD COLUMN usage_units BIGINT NOT NULL DEFAULT 0;
--bun:split
ALTER TABLE invoice_lines ADD COLUMN dimension TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE invoice_lines ADD COLUMN usage_units BIGINT NOT NULL DEFAULT 0;
--bun:split
-- Usage events accepted: one per subscription, dimension and hour of its
-- effective start (Microsoft's rule), durable when answered. A close of
-- the subscription's usage claims the events not charged yet (claim_key,
-- the close's step) and the workflow charges what they add up to.
CREATE TABLE usage_events (
    id              TEXT PRIMARY KEY,
    subscription_id TEXT NOT NULL,
    publisher_id    TEXT NOT NULL,
    offer_id        TEXT NOT NULL,
    plan_id         TEXT NOT NULL,
    dimension       TEXT NOT NULL,
    hour_unix       BIGINT NOT NULL,
    effective_unix  BIGINT NOT NULL,
    effective_at    {{.Timestamp}} NOT NULL,
    quantity        BIGINT NOT NULL,
    source          TEXT NOT NULL,
    request_id      TEXT NOT NULL,
    accepted_at     {{.Timestamp}} NOT NULL,
    claim_key       TEXT
);
--bun:split
CREATE UNIQUE INDEX usage_events_one_per_hour ON usage_events (subscription_id, dimension, hour_unix);
--bun:split
CREATE INDEX usage_events_unclaimed ON usage_events (subscription_id, claim_key);
--bun:split
CREATE INDEX usage_events_by_publisher ON usage_events (publisher_id, effective_unix);
--bun:split
-- Usage events refused (but duplicates, which name the event accepted):
-- the ISV's submission log says what happened to each.
CREATE TABLE usage_refusals (
    id              TEXT PRIMARY KEY,
    publisher_id    TEXT NOT NULL,
    resource_id     TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    dimension       TEXT NOT NULL,
    effective_unix  BIGINT NOT NULL,
    quantity        TEXT NOT NULL,
    status          TEXT NOT NULL,
    duplicate_of    TEXT NOT NULL,
    request_id      TEXT NOT NULL,
    refused_at      {{.Timestamp}} NOT NULL
);
--bun:split
CREATE INDEX usage_refusals_by_publisher ON usage_refusals (publisher_id, refused_at);
