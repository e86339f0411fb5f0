DROP TABLE sealed_authorization_codes;
--bun:split
DROP INDEX authorization_codes_subscription;
--bun:split
ALTER TABLE authorization_codes DROP COLUMN revoked_at;
