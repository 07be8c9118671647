-- Lists page by keyset (SPEC §9): clients and API keys are listed oldest
-- first, by (created_at, id), and a page starts after the last item of the
-- page before. These indexes hold that order, so a page reads its own rows
-- and no others: (created_at, id) for every client or key, and the owner's
-- index gains id so ties on created_at need no sort.

-- +goose Up
CREATE INDEX clients_created_at ON clients (created_at, id);
CREATE INDEX api_keys_created_at ON api_keys (created_at, id);
DROP INDEX api_keys_owner_id;
CREATE INDEX api_keys_owner_id ON api_keys (owner_id, created_at, id);

-- +goose Down
DROP INDEX api_keys_owner_id;
CREATE INDEX api_keys_owner_id ON api_keys (owner_id, created_at);
DROP INDEX api_keys_created_at;
DROP INDEX clients_created_at;
