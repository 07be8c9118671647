-- Account protection: lockout counters per bucket, addresses a user signed
-- in from (so failures from them count apart), and password history.

-- +goose Up
CREATE TABLE lockouts (
    user_id      text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    bucket       text NOT NULL,
    failures     integer NOT NULL DEFAULT 0,
    window_start timestamptz NOT NULL,
    locked_until timestamptz,
    locks        integer NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, bucket)
);

CREATE TABLE known_ips (
    user_id         text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    ip              text NOT NULL,
    last_success_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, ip)
);

CREATE TABLE password_history (
    user_id    text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hash       text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX password_history_user ON password_history (user_id, created_at);
CREATE INDEX one_time_tokens_expires ON one_time_tokens (expires_at);

-- +goose Down
DROP INDEX one_time_tokens_expires;
DROP TABLE password_history;
DROP TABLE known_ips;
DROP TABLE lockouts;
