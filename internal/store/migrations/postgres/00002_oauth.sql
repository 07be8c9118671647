-- OAuth clients, sessions (refresh-token families) and their tokens,
-- signing keys, and the revocation deny list.

-- +goose Up
CREATE TABLE clients (
    id            text PRIMARY KEY,
    name          text NOT NULL DEFAULT '',
    type          text NOT NULL,
    secret_hash   text NOT NULL DEFAULT '',
    grant_types   text NOT NULL DEFAULT '[]',
    redirect_uris text NOT NULL DEFAULT '[]',
    scopes        text NOT NULL DEFAULT '[]',
    built_in      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

CREATE TABLE sessions (
    id              text PRIMARY KEY,
    user_id         text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id       text NOT NULL DEFAULT '',
    scope           text NOT NULL DEFAULT '[]',
    audience        text NOT NULL DEFAULT '[]',
    auth_time       timestamptz NOT NULL,
    amr             text NOT NULL DEFAULT '[]',
    created_at      timestamptz NOT NULL,
    last_used_at    timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    idle_expires_at timestamptz NOT NULL,
    revoked_at      timestamptz,
    revoke_reason   text NOT NULL DEFAULT '',
    ip              text NOT NULL DEFAULT '',
    user_agent      text NOT NULL DEFAULT '',
    current_hash    text NOT NULL DEFAULT '',
    generation      integer NOT NULL DEFAULT 0
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE refresh_tokens (
    hash       text PRIMARY KEY,
    session_id text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    generation integer NOT NULL,
    created_at timestamptz NOT NULL,
    rotated_at timestamptz,
    successor  bytea
);
CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);

CREATE TABLE signing_keys (
    kid            text PRIMARY KEY,
    alg            text NOT NULL,
    private_sealed text NOT NULL,
    public_jwk     bytea NOT NULL,
    created_at     timestamptz NOT NULL,
    activated_at   timestamptz,
    retired_at     timestamptz,
    expires_at     timestamptz
);

CREATE TABLE revocations (
    seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind       text NOT NULL,
    value      text NOT NULL,
    revoked_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX revocations_expires_at ON revocations (expires_at);

-- +goose Down
DROP TABLE revocations;
DROP TABLE signing_keys;
DROP TABLE refresh_tokens;
DROP TABLE sessions;
DROP TABLE clients;
