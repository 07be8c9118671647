-- A refresh token names its family (decisions.md #24): the session and the
-- generation it was issued at, so the grant finds its row by the primary key
-- (session_id, generation) and compares the stored hash, instead of keeping
-- an index on the hash, whose entries land on a random page at every
-- rotation. The table is rebuilt WITHOUT ROWID around that key: a rotation
-- writes one B-tree instead of three. Tokens issued before this version name
-- nothing; their rows are marked legacy and found by hash through a partial
-- index until they expire (REFRESH_TOKEN_TTL). Rows rotated before 00009
-- keep their successor and replay columns.

-- +goose Up
CREATE TABLE refresh_tokens_next (
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    generation INTEGER NOT NULL,
    hash       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    rotated_at INTEGER,
    successor  BLOB,
    replay     BLOB,
    replay_id  INTEGER,
    legacy     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (session_id, generation)
) STRICT, WITHOUT ROWID;
INSERT INTO refresh_tokens_next (session_id, generation, hash, created_at, rotated_at, successor, replay, replay_id, legacy)
    SELECT session_id, generation, hash, created_at, rotated_at, successor, replay, replay_id, 1 FROM refresh_tokens;
DROP TABLE refresh_tokens;
ALTER TABLE refresh_tokens_next RENAME TO refresh_tokens;
CREATE INDEX refresh_tokens_legacy_hash ON refresh_tokens (hash) WHERE legacy;

-- +goose Down
CREATE TABLE refresh_tokens_prev (
    hash       TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    generation INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    rotated_at INTEGER,
    successor  BLOB,
    replay     BLOB,
    replay_id  INTEGER
) STRICT;
INSERT INTO refresh_tokens_prev (hash, session_id, generation, created_at, rotated_at, successor, replay, replay_id)
    SELECT hash, session_id, generation, created_at, rotated_at, successor, replay, replay_id FROM refresh_tokens;
DROP TABLE refresh_tokens;
ALTER TABLE refresh_tokens_prev RENAME TO refresh_tokens;
CREATE UNIQUE INDEX refresh_tokens_session_generation ON refresh_tokens (session_id, generation);
