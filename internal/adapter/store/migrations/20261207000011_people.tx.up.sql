-- People who sign in with their organisation's identity provider (issue
-- 29): recorded at first sign-in, named in the audit trail. One row per
-- provider, subject and partner: what a person did for a partner stays
-- named for that partner.
CREATE TABLE people (
    id                TEXT PRIMARY KEY,
    partner_id        TEXT NOT NULL REFERENCES partners (id),
    issuer            TEXT NOT NULL,
    subject           TEXT NOT NULL,
    name              TEXT NOT NULL,
    email             TEXT NOT NULL,
    role              TEXT NOT NULL,
    created_at        {{.Timestamp}} NOT NULL,
    last_signed_in_at {{.Timestamp}} NOT NULL,
    revoked_at        {{.Timestamp}},
    UNIQUE (issuer, subject, partner_id)
);
--bun:split
-- A console session is an agent's (its token, sealed) or a person's (the
-- role and partner the directory gave at sign-in, and the ID token,
-- sealed, for the provider's sign-out). Sessions are short-lived: the
-- table is made anew and everyone signs in again once.
DROP TABLE console_sessions;
--bun:split
CREATE TABLE console_sessions (
    id_hash      TEXT PRIMARY KEY,
    agent_id     TEXT REFERENCES agents (id),
    person_id    TEXT REFERENCES people (id),
    partner_id   TEXT NOT NULL,
    role         TEXT NOT NULL,
    sealed_token {{.Bytes}} NOT NULL,
    csrf_token   TEXT NOT NULL,
    created_at   {{.Timestamp}} NOT NULL,
    last_seen_at {{.Timestamp}} NOT NULL,
    CHECK ((agent_id IS NULL) <> (person_id IS NULL))
);
--bun:split
-- The states of sign-ins the provider vouched for, so that one login ends
-- in one session even when its callback arrives twice at once (a state
-- is written here only after its code was exchanged).
CREATE TABLE console_sign_ins_spent (
    state_hash TEXT PRIMARY KEY,
    spent_at   {{.Timestamp}} NOT NULL
);
--bun:split
CREATE INDEX console_sign_ins_spent_at ON console_sign_ins_spent (spent_at);
