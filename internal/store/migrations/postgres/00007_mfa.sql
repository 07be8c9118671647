-- Second factors (SPEC §6): a user's TOTP enrolment, its secret sealed under
-- the master key, and the SHA-256 hashes of their recovery codes.

-- +goose Up
CREATE TABLE mfa_totp (
    user_id       text PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret_sealed text NOT NULL,
    confirmed     boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL,
    confirmed_at  timestamptz,
    -- the newest 30-second step whose code was accepted (0: none), so each
    -- code is accepted once, across instances
    last_step     bigint NOT NULL DEFAULT 0
);

CREATE TABLE mfa_recovery_codes (
    user_id    text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hash       text NOT NULL,
    created_at timestamptz NOT NULL,
    used_at    timestamptz,
    PRIMARY KEY (user_id, hash)
);

-- +goose Down
DROP TABLE mfa_recovery_codes;
DROP TABLE mfa_totp;
