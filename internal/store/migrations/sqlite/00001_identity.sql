-- Users, their roles and groups, one-time tokens, and the role and group
-- definitions. Times are INTEGER unix microseconds (UTC), booleans 0/1,
-- small string sets JSON arrays in TEXT. Tables are STRICT so a wrongly
-- typed value fails loudly instead of being stored.

-- +goose Up
CREATE TABLE users (
    id                   TEXT PRIMARY KEY,
    username             TEXT NOT NULL,
    username_key         TEXT NOT NULL,
    email                TEXT NOT NULL DEFAULT '',
    email_key            TEXT,
    display_name         TEXT NOT NULL DEFAULT '',
    search               TEXT NOT NULL DEFAULT '',
    status               TEXT NOT NULL,
    password_hash        TEXT NOT NULL DEFAULT '',
    must_change_password INTEGER NOT NULL DEFAULT 0,
    totp_enabled         INTEGER NOT NULL DEFAULT 0,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    last_login_at        INTEGER,
    locked_until         INTEGER,
    password_changed_at  INTEGER
) STRICT;
CREATE UNIQUE INDEX users_username_key ON users (username_key);
CREATE UNIQUE INDEX users_email_key ON users (email_key) WHERE email_key IS NOT NULL;

CREATE TABLE user_roles (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role    TEXT NOT NULL,
    pos     INTEGER NOT NULL,
    PRIMARY KEY (user_id, role)
) STRICT;
CREATE INDEX user_roles_role ON user_roles (role);

CREATE TABLE user_groups (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    group_name TEXT NOT NULL,
    pos        INTEGER NOT NULL,
    PRIMARY KEY (user_id, group_name)
) STRICT;
CREATE INDEX user_groups_group_name ON user_groups (group_name);

CREATE TABLE one_time_tokens (
    hash       TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL DEFAULT '',
    data       TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT;
CREATE INDEX one_time_tokens_user_kind ON one_time_tokens (user_id, kind);

CREATE TABLE roles (
    name        TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    permissions TEXT NOT NULL DEFAULT '[]',
    inherits    TEXT NOT NULL DEFAULT '[]',
    built_in    INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE TABLE groups (
    name        TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    roles       TEXT NOT NULL DEFAULT '[]',
    built_in    INTEGER NOT NULL DEFAULT 0
) STRICT;

-- +goose Down
DROP TABLE groups;
DROP TABLE roles;
DROP TABLE one_time_tokens;
DROP TABLE user_groups;
DROP TABLE user_roles;
DROP TABLE users;
