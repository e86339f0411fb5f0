DROP TABLE notifications;
--bun:split
DROP TABLE charges;
--bun:split
DROP TABLE subscription_events;
--bun:split
DROP TABLE authorization_codes;
--bun:split
DROP TABLE subscriptions;
--bun:split
DROP TABLE plans;
--bun:split
DROP TABLE offers;
--bun:split
DROP TABLE publisher_secrets;
--bun:split
DROP TABLE publishers;
--bun:split
DROP TABLE customers;
--bun:split
DROP TABLE agents;
--bun:split
DROP TABLE partners;
