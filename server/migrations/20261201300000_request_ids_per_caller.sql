-- Idempotency keys belong to the caller that sent them: another caller's request with the
-- same request_id is a request of its own, never a replay of someone else's response.
-- Keys remembered so far keep an empty actor (they expire within the retention window).
ALTER TABLE request_ids ADD COLUMN actor text NOT NULL DEFAULT '';
ALTER TABLE request_ids DROP CONSTRAINT request_ids_pkey;
ALTER TABLE request_ids ADD PRIMARY KEY (actor, method, request_id);
