-- A rotation writes only its new token (decisions.md #20): the response it
-- answered, sealed under a key derived from the token it replaced, is kept in
-- the new row (replay) instead of being written back into the old row, so the
-- old row is never rewritten. A family has one token per generation; the
-- unique index finds a token's successor, and serves the session cascade.
-- Rows rotated before this version keep their rotated_at and successor.

-- +goose Up
ALTER TABLE refresh_tokens ADD COLUMN replay BLOB;
CREATE UNIQUE INDEX refresh_tokens_session_generation ON refresh_tokens (session_id, generation);
DROP INDEX refresh_tokens_session_id;

-- +goose Down
CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);
DROP INDEX refresh_tokens_session_generation;
ALTER TABLE refresh_tokens DROP COLUMN replay;
