-- Server secrets kept sealed under the master key (the audit chain key).

-- +goose Up
CREATE TABLE sealed_secrets (
    name       text PRIMARY KEY,
    sealed     text NOT NULL,
    created_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE sealed_secrets;
