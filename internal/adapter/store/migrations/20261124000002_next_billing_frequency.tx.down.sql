ALTER TABLE subscriptions DROP COLUMN next_billing_frequency;
