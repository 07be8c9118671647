-- The audit chain and its head. audit_head holds exactly one row (id 1),
-- the seq and hash of the last event, which appends lock and advance.

-- +goose Up
CREATE TABLE audit_events (
    id          TEXT PRIMARY KEY,
    seq         INTEGER NOT NULL,
    time        INTEGER NOT NULL,
    actor_type  TEXT NOT NULL DEFAULT '',
    actor_id    TEXT NOT NULL DEFAULT '',
    action      TEXT NOT NULL,
    target_type TEXT NOT NULL DEFAULT '',
    target_id   TEXT NOT NULL DEFAULT '',
    outcome     TEXT NOT NULL DEFAULT '',
    reason      TEXT NOT NULL DEFAULT '',
    ip          TEXT NOT NULL DEFAULT '',
    user_agent  TEXT NOT NULL DEFAULT '',
    request_id  TEXT NOT NULL DEFAULT '',
    metadata    TEXT,
    prev_hash   TEXT NOT NULL DEFAULT '',
    hash        TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX audit_events_seq ON audit_events (seq);
CREATE INDEX audit_events_action ON audit_events (action);
CREATE INDEX audit_events_actor_id ON audit_events (actor_id);
CREATE INDEX audit_events_target_id ON audit_events (target_id);
CREATE INDEX audit_events_time ON audit_events (time);

CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
) STRICT;
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '');

-- +goose Down
DROP TABLE audit_head;
DROP TABLE audit_events;
