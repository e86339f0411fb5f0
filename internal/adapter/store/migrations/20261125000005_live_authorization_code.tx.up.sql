ALTER TABLE authorization_codes ADD COLUMN revoked_at {{.Timestamp}};
--bun:split
CREATE INDEX authorization_codes_subscription ON authorization_codes (subscription_id, expires_at);
--bun:split
CREATE TABLE sealed_authorization_codes (
    code_hash   TEXT PRIMARY KEY,
    sealed_code {{.Bytes}} NOT NULL,
    created_at  {{.Timestamp}} NOT NULL
);
