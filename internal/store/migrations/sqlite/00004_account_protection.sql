-- Account protection: lockout counters per bucket, addresses a user signed
-- in from (so failures from them count apart), and password history.

-- +goose Up
CREATE TABLE lockouts (
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    bucket       TEXT NOT NULL,
    failures     INTEGER NOT NULL DEFAULT 0,
    window_start INTEGER NOT NULL,
    locked_until INTEGER,
    locks        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, bucket)
) STRICT;

CREATE TABLE known_ips (
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    ip              TEXT NOT NULL,
    last_success_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, ip)
) STRICT;

CREATE TABLE password_history (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hash       TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX password_history_user ON password_history (user_id, created_at);
CREATE INDEX one_time_tokens_expires ON one_time_tokens (expires_at);

-- +goose Down
DROP INDEX one_time_tokens_expires;
DROP TABLE password_history;
DROP TABLE known_ips;
DROP TABLE lockouts;
