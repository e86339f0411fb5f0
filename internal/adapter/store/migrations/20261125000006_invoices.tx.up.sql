ALTER TABLE charges ADD COLUMN reason TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE charges ADD COLUMN unit_price BIGINT NOT NULL DEFAULT 0;
--bun:split
ALTER TABLE charges ADD COLUMN customer_id TEXT NOT NULL DEFAULT '';
--bun:split
ALTER TABLE charges ADD COLUMN posted_at {{.Timestamp}};
--bun:split
ALTER TABLE charges ADD COLUMN invoice_id TEXT;
--bun:split
-- Lines written before these columns: the key always said why (billing.ReasonOf).
UPDATE charges SET reason = CASE
    WHEN key LIKE 'credit/%' AND key LIKE '%/quantity-%' THEN 'licences_removed'
    WHEN key LIKE 'credit/%' THEN 'refund'
    WHEN key LIKE '%/quantity-%' THEN 'licences_added'
    ELSE 'installment' END
WHERE reason = '';
--bun:split
UPDATE charges SET posted_at = created_at WHERE posted_at IS NULL;
--bun:split
UPDATE charges SET unit_price = amount / quantity WHERE unit_price = 0 AND quantity > 0;
--bun:split
UPDATE charges SET customer_id = (SELECT s.customer_id FROM subscriptions s WHERE s.id = charges.subscription_id) WHERE customer_id = '';
--bun:split
CREATE INDEX charges_unbilled ON charges (partner_id, customer_id, invoice_id, posted_at);
--bun:split
ALTER TABLE subscriptions ADD COLUMN lots TEXT NOT NULL DEFAULT '';
--bun:split
CREATE TABLE invoices (
    id           TEXT PRIMARY KEY,
    partner_id   TEXT NOT NULL REFERENCES partners (id),
    customer_id  TEXT NOT NULL REFERENCES customers (id),
    currency     TEXT NOT NULL,
    period_start {{.Timestamp}} NOT NULL,
    period_end   {{.Timestamp}} NOT NULL,
    number       BIGINT NOT NULL,
    issued_at    {{.Timestamp}} NOT NULL,
    subtotal     BIGINT NOT NULL,
    total        BIGINT NOT NULL,
    run_id       TEXT NOT NULL,
    UNIQUE (partner_id, customer_id, currency, period_start),
    UNIQUE (partner_id, number)
);
--bun:split
CREATE INDEX invoices_customer ON invoices (partner_id, customer_id, number);
--bun:split
CREATE TABLE invoice_lines (
    invoice_id          TEXT NOT NULL REFERENCES invoices (id),
    position            INTEGER NOT NULL,
    charge_key          TEXT NOT NULL UNIQUE,
    subscription_id     TEXT NOT NULL,
    offer_id            TEXT NOT NULL,
    plan_id             TEXT NOT NULL,
    publisher_id        TEXT NOT NULL,
    reseller_partner_id TEXT NOT NULL,
    kind                TEXT NOT NULL,
    reason              TEXT NOT NULL,
    quantity            INTEGER NOT NULL,
    unit_price          BIGINT NOT NULL,
    period_start        {{.Timestamp}} NOT NULL,
    period_end          {{.Timestamp}} NOT NULL,
    amount              BIGINT NOT NULL,
    currency            TEXT NOT NULL,
    posted_at           {{.Timestamp}} NOT NULL,
    PRIMARY KEY (invoice_id, position)
);
