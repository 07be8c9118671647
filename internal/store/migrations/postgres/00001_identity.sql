-- Users, their roles and groups, one-time tokens, and the role and group
-- definitions. Small string sets are JSON arrays in text. username_key is
-- COLLATE "C" so listing order (and the After cursor) is bytewise, as on SQLite.

-- +goose Up
CREATE TABLE users (
    id                   text PRIMARY KEY,
    username             text NOT NULL,
    username_key         text COLLATE "C" NOT NULL,
    email                text NOT NULL DEFAULT '',
    email_key            text,
    display_name         text NOT NULL DEFAULT '',
    search               text NOT NULL DEFAULT '',
    status               text NOT NULL,
    password_hash        text NOT NULL DEFAULT '',
    must_change_password boolean NOT NULL DEFAULT false,
    totp_enabled         boolean NOT NULL DEFAULT false,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    last_login_at        timestamptz,
    locked_until         timestamptz,
    password_changed_at  timestamptz
);
CREATE UNIQUE INDEX users_username_key ON users (username_key);
CREATE UNIQUE INDEX users_email_key ON users (email_key) WHERE email_key IS NOT NULL;

CREATE TABLE user_roles (
    user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role    text NOT NULL,
    pos     integer NOT NULL,
    PRIMARY KEY (user_id, role)
);
CREATE INDEX user_roles_role ON user_roles (role);

CREATE TABLE user_groups (
    user_id    text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    group_name text NOT NULL,
    pos        integer NOT NULL,
    PRIMARY KEY (user_id, group_name)
);
CREATE INDEX user_groups_group_name ON user_groups (group_name);

CREATE TABLE one_time_tokens (
    hash       text PRIMARY KEY,
    kind       text NOT NULL,
    user_id    text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  text NOT NULL DEFAULT '',
    data       text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX one_time_tokens_user_kind ON one_time_tokens (user_id, kind);

CREATE TABLE roles (
    name        text COLLATE "C" PRIMARY KEY,
    description text NOT NULL DEFAULT '',
    permissions text NOT NULL DEFAULT '[]',
    inherits    text NOT NULL DEFAULT '[]',
    built_in    boolean NOT NULL DEFAULT false
);

CREATE TABLE groups (
    name        text COLLATE "C" PRIMARY KEY,
    description text NOT NULL DEFAULT '',
    roles       text NOT NULL DEFAULT '[]',
    built_in    boolean NOT NULL DEFAULT false
);

-- +goose Down
DROP TABLE groups;
DROP TABLE roles;
DROP TABLE one_time_tokens;
DROP TABLE user_groups;
DROP TABLE user_roles;
DROP TABLE users;
