-- API keys (SPEC §8): only the SHA-256 of each secret is stored (hash, and
-- prev_hash during a rotation's grace period), plus a visible hint. Usage is
-- counted per key, outcome and hour or day (period 'hour' or 'day', start
-- the bucket's first instant); the service flushes it in batches.

-- +goose Up
CREATE TABLE api_keys (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    prefix          TEXT NOT NULL,
    hint            TEXT NOT NULL,
    owner_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    permissions     TEXT NOT NULL DEFAULT '[]',
    metadata        TEXT NOT NULL DEFAULT '{}',
    expires_at      INTEGER,
    rate_limit      INTEGER,
    rate_window_ms  INTEGER,
    quota           INTEGER,
    quota_remaining INTEGER,
    status          TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    last_used_at    INTEGER,
    revoked_at      INTEGER,
    hash            TEXT NOT NULL,
    prev_hash       TEXT,
    prev_expires_at INTEGER
) STRICT;
CREATE UNIQUE INDEX api_keys_hash ON api_keys (hash);
CREATE INDEX api_keys_prev_hash ON api_keys (prev_hash) WHERE prev_hash IS NOT NULL;
CREATE INDEX api_keys_owner_id ON api_keys (owner_id, created_at);

CREATE TABLE api_key_usage (
    key_id  TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    period  TEXT NOT NULL,
    start   INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    n       INTEGER NOT NULL,
    PRIMARY KEY (key_id, period, start, outcome)
) STRICT, WITHOUT ROWID;
CREATE INDEX api_key_usage_period_start ON api_key_usage (period, start);

-- +goose Down
DROP TABLE api_key_usage;
DROP TABLE api_keys;
