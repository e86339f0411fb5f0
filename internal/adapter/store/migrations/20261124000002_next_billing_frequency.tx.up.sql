ALTER TABLE subscriptions ADD COLUMN next_billing_frequency TEXT NOT NULL DEFAULT '';
