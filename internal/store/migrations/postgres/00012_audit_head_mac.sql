-- The audit head carries a MAC over its seq and hash (audit.HeadMAC, under
-- a key derived from the audit chain key), so that deleting the newest
-- events and moving the head back to the last one left is detected
-- (decisions.md #30). '' is a head written before this migration; the
-- next append authenticates it and records audit.head_authenticated.

-- +goose Up
ALTER TABLE audit_head ADD COLUMN mac TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE audit_head DROP COLUMN mac;
