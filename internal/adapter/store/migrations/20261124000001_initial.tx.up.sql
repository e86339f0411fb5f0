CREATE TABLE partners (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  {{.Timestamp}} NOT NULL
);
--bun:split
CREATE TABLE agents (
    id          TEXT PRIMARY KEY,
    partner_id  TEXT NOT NULL REFERENCES partners (id),
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  {{.Timestamp}} NOT NULL,
    revoked_at  {{.Timestamp}}
);
--bun:split
CREATE TABLE customers (
    id          TEXT PRIMARY KEY,
    partner_id  TEXT NOT NULL REFERENCES partners (id),
    name        TEXT NOT NULL,
    created_at  {{.Timestamp}} NOT NULL
);
--bun:split
CREATE INDEX customers_partner_created ON customers (partner_id, created_at, id);
--bun:split
CREATE TABLE publishers (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    landing_url TEXT NOT NULL,
    created_at  {{.Timestamp}} NOT NULL
);
--bun:split
CREATE TABLE publisher_secrets (
    id            TEXT PRIMARY KEY,
    publisher_id  TEXT NOT NULL REFERENCES publishers (id),
    sealed_secret {{.Bytes}} NOT NULL,
    created_at    {{.Timestamp}} NOT NULL,
    revoked_at    {{.Timestamp}}
);
--bun:split
CREATE TABLE offers (
    id            TEXT PRIMARY KEY,
    publisher_id  TEXT NOT NULL REFERENCES publishers (id),
    name          TEXT NOT NULL,
    license_based BOOLEAN NOT NULL,
    updated_at    {{.Timestamp}} NOT NULL
);
--bun:split
CREATE TABLE plans (
    offer_id                        TEXT NOT NULL REFERENCES offers (id),
    id                              TEXT NOT NULL,
    position                        INTEGER NOT NULL,
    name                            TEXT NOT NULL,
    term_duration                   TEXT NOT NULL,
    billing_frequencies             TEXT NOT NULL,
    unit_price                      BIGINT NOT NULL,
    currency                        TEXT NOT NULL,
    min_quantity                    INTEGER NOT NULL,
    max_quantity                    INTEGER NOT NULL,
    cancellation_window             TEXT NOT NULL,
    cancellation_requires_publisher BOOLEAN NOT NULL,
    PRIMARY KEY (offer_id, id)
);
--bun:split
CREATE TABLE subscriptions (
    id                          TEXT PRIMARY KEY,
    partner_id                  TEXT NOT NULL REFERENCES partners (id),
    customer_id                 TEXT NOT NULL REFERENCES customers (id),
    offer_id                    TEXT NOT NULL,
    plan_id                     TEXT NOT NULL,
    publisher_id                TEXT NOT NULL,
    license_based               BOOLEAN NOT NULL,
    nickname                    TEXT NOT NULL,
    quantity                    INTEGER NOT NULL,
    status                      TEXT NOT NULL,
    action_needed               BOOLEAN NOT NULL,
    auto_renew                  BOOLEAN NOT NULL,
    billing_frequency           TEXT NOT NULL,
    term_duration               TEXT NOT NULL,
    reseller_partner_id         TEXT NOT NULL,
    unit_price                  BIGINT NOT NULL,
    currency                    TEXT NOT NULL,
    publisher_url               TEXT NOT NULL,
    purchased_at                {{.Timestamp}} NOT NULL,
    activated_at                {{.Timestamp}},
    billing_started_at          {{.Timestamp}},
    term_start                  {{.Timestamp}},
    term_end                    {{.Timestamp}},
    cancellation_window_ends_at {{.Timestamp}},
    idempotency_key             TEXT,
    request_hash                TEXT NOT NULL,
    version                     BIGINT NOT NULL,
    updated_at                  {{.Timestamp}} NOT NULL
);
--bun:split
CREATE INDEX subscriptions_customer ON subscriptions (partner_id, customer_id, purchased_at, id);
--bun:split
CREATE UNIQUE INDEX subscriptions_idempotency ON subscriptions (partner_id, idempotency_key);
--bun:split
CREATE TABLE authorization_codes (
    code_hash       TEXT PRIMARY KEY,
    subscription_id TEXT NOT NULL REFERENCES subscriptions (id),
    publisher_id    TEXT NOT NULL,
    expires_at      {{.Timestamp}} NOT NULL,
    created_at      {{.Timestamp}} NOT NULL
);
--bun:split
CREATE TABLE subscription_events (
    id              {{.AutoID}},
    key             TEXT NOT NULL UNIQUE,
    subscription_id TEXT NOT NULL,
    kind            TEXT NOT NULL,
    actor           TEXT NOT NULL,
    detail          TEXT NOT NULL,
    publisher_id    TEXT,
    isv_event_id    TEXT,
    created_at      {{.Timestamp}} NOT NULL
);
--bun:split
CREATE INDEX subscription_events_subscription ON subscription_events (subscription_id, id);
--bun:split
CREATE UNIQUE INDEX subscription_events_isv_dedup ON subscription_events (publisher_id, isv_event_id);
--bun:split
CREATE TABLE charges (
    id              {{.AutoID}},
    key             TEXT NOT NULL UNIQUE,
    subscription_id TEXT NOT NULL REFERENCES subscriptions (id),
    partner_id      TEXT NOT NULL,
    kind            TEXT NOT NULL,
    amount          BIGINT NOT NULL,
    currency        TEXT NOT NULL,
    quantity        INTEGER NOT NULL,
    period_start    {{.Timestamp}} NOT NULL,
    period_end      {{.Timestamp}} NOT NULL,
    description     TEXT NOT NULL,
    created_at      {{.Timestamp}} NOT NULL
);
--bun:split
CREATE INDEX charges_subscription ON charges (subscription_id, id);
--bun:split
CREATE TABLE notifications (
    id              {{.AutoID}},
    key             TEXT NOT NULL UNIQUE,
    subscription_id TEXT NOT NULL,
    recipient_kind  TEXT NOT NULL,
    recipient_id    TEXT NOT NULL,
    type            TEXT NOT NULL,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL,
    created_at      {{.Timestamp}} NOT NULL,
    delivered_at    {{.Timestamp}}
);
--bun:split
CREATE INDEX notifications_pending ON notifications (status, id);
