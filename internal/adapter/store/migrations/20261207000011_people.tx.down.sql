DROP TABLE console_sign_ins_spent;
--bun:split
DROP TABLE console_sessions;
--bun:split
CREATE TABLE console_sessions (
    id_hash      TEXT PRIMARY KEY,
    agent_id     TEXT NOT NULL REFERENCES agents (id),
    sealed_token {{.Bytes}} NOT NULL,
    csrf_token   TEXT NOT NULL,
    created_at   {{.Timestamp}} NOT NULL,
    last_seen_at {{.Timestamp}} NOT NULL
);
--bun:split
DROP TABLE people;
