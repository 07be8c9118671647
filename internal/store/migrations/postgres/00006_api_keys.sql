-- API keys (SPEC §8): only the SHA-256 of each secret is stored (hash, and
-- prev_hash during a rotation's grace period), plus a visible hint. Usage is
-- counted per key, outcome and hour or day (period 'hour' or 'day', start
-- the bucket's first instant); the service flushes it in batches.

-- +goose Up
CREATE TABLE api_keys (
    id              text PRIMARY KEY,
    name            text NOT NULL,
    prefix          text NOT NULL,
    hint            text NOT NULL,
    owner_id        text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    permissions     text NOT NULL DEFAULT '[]',
    metadata        text NOT NULL DEFAULT '{}',
    expires_at      timestamptz,
    rate_limit      integer,
    rate_window_ms  bigint,
    quota           bigint,
    quota_remaining bigint,
    status          text NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    last_used_at    timestamptz,
    revoked_at      timestamptz,
    hash            text NOT NULL,
    prev_hash       text,
    prev_expires_at timestamptz
);
CREATE UNIQUE INDEX api_keys_hash ON api_keys (hash);
CREATE INDEX api_keys_prev_hash ON api_keys (prev_hash) WHERE prev_hash IS NOT NULL;
CREATE INDEX api_keys_owner_id ON api_keys (owner_id, created_at);

CREATE TABLE api_key_usage (
    key_id  text NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    period  text NOT NULL,
    start   timestamptz NOT NULL,
    outcome text NOT NULL,
    n       bigint NOT NULL,
    PRIMARY KEY (key_id, period, start, outcome)
);
CREATE INDEX api_key_usage_period_start ON api_key_usage (period, start);

-- +goose Down
DROP TABLE api_key_usage;
DROP TABLE api_keys;
