-- Second factors (SPEC §6): a user's TOTP enrolment, its secret sealed under
-- the master key, and the SHA-256 hashes of their recovery codes.

-- +goose Up
CREATE TABLE mfa_totp (
    user_id       TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret_sealed TEXT NOT NULL,
    confirmed     INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    confirmed_at  INTEGER,
    -- the newest 30-second step whose code was accepted (0: none), so each
    -- code is accepted once, across instances
    last_step     INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE mfa_recovery_codes (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hash       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    used_at    INTEGER,
    PRIMARY KEY (user_id, hash)
) STRICT;

-- +goose Down
DROP TABLE mfa_recovery_codes;
DROP TABLE mfa_totp;
