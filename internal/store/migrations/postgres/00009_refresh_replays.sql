-- The response that replaced a rotated refresh token is needed only within
-- the reuse grace (decisions.md #21): it moves out of refresh_tokens into
-- refresh_replays, whose rows the server deletes once the grace has passed,
-- so the table stays the size of a few seconds of rotations instead of the
-- database growing by the 1.5 KB sealed response at every rotation for the
-- life of the session. The new token's row points at its replay (replay_id);
-- identity values only increase, which the pruner's watermark relies on.
-- Rows written by 00008 keep their replay column.

-- +goose Up
CREATE TABLE refresh_replays (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at timestamptz NOT NULL,
    replay     bytea NOT NULL
);
ALTER TABLE refresh_tokens ADD COLUMN replay_id bigint;

-- +goose Down
ALTER TABLE refresh_tokens DROP COLUMN replay_id;
DROP TABLE refresh_replays;
