-- A refresh token names its family (decisions.md #24): the session and the
-- generation it was issued at, so the grant finds its row by the primary key
-- (session_id, generation) and compares the stored hash, instead of keeping
-- a unique index on the hash, whose entries land on a random page at every
-- rotation. Tokens issued before this version name nothing; their rows are
-- marked legacy (the column's default is true for the rows present, false
-- for those added later) and found by hash through a partial index until
-- they expire (REFRESH_TOKEN_TTL).

-- +goose Up
ALTER TABLE refresh_tokens ADD COLUMN legacy boolean NOT NULL DEFAULT true;
ALTER TABLE refresh_tokens ALTER COLUMN legacy SET DEFAULT false;
ALTER TABLE refresh_tokens DROP CONSTRAINT refresh_tokens_pkey,
    ADD CONSTRAINT refresh_tokens_pkey PRIMARY KEY USING INDEX refresh_tokens_session_generation;
CREATE INDEX refresh_tokens_legacy_hash ON refresh_tokens (hash) WHERE legacy;

-- +goose Down
DROP INDEX refresh_tokens_legacy_hash;
CREATE UNIQUE INDEX refresh_tokens_session_generation ON refresh_tokens (session_id, generation);
ALTER TABLE refresh_tokens DROP CONSTRAINT refresh_tokens_pkey, ADD PRIMARY KEY (hash);
ALTER TABLE refresh_tokens DROP COLUMN legacy;
