-- The audit chain and its head. audit_head holds exactly one row (id 1),
-- the seq and hash of the last event; appends lock it FOR UPDATE, so they
-- serialize and seq order is commit order.

-- +goose Up
CREATE TABLE audit_events (
    id          text PRIMARY KEY,
    seq         bigint NOT NULL,
    time        timestamptz NOT NULL,
    actor_type  text NOT NULL DEFAULT '',
    actor_id    text NOT NULL DEFAULT '',
    action      text NOT NULL,
    target_type text NOT NULL DEFAULT '',
    target_id   text NOT NULL DEFAULT '',
    outcome     text NOT NULL DEFAULT '',
    reason      text NOT NULL DEFAULT '',
    ip          text NOT NULL DEFAULT '',
    user_agent  text NOT NULL DEFAULT '',
    request_id  text NOT NULL DEFAULT '',
    metadata    text,
    prev_hash   text NOT NULL DEFAULT '',
    hash        text NOT NULL
);
CREATE UNIQUE INDEX audit_events_seq ON audit_events (seq);
CREATE INDEX audit_events_action ON audit_events (action);
CREATE INDEX audit_events_actor_id ON audit_events (actor_id);
CREATE INDEX audit_events_target_id ON audit_events (target_id);
CREATE INDEX audit_events_time ON audit_events (time);

CREATE TABLE audit_head (
    id   integer PRIMARY KEY CHECK (id = 1),
    seq  bigint NOT NULL,
    hash text NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '');

-- +goose Down
DROP TABLE audit_head;
DROP TABLE audit_events;
