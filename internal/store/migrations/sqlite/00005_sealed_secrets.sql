-- Server secrets kept sealed under the master key (the audit chain key).

-- +goose Up
CREATE TABLE sealed_secrets (
    name       TEXT PRIMARY KEY,
    sealed     TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE sealed_secrets;
