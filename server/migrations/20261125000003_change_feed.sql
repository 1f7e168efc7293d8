-- Change-feed retention: everything at or below `compacted_through` may have been compacted
-- away (only the newest snapshot of each live resource is kept), so a watcher must resume
-- after it.
CREATE TABLE change_log_state (
    singleton         boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    compacted_through bigint NOT NULL DEFAULT 0
);
INSERT INTO change_log_state DEFAULT VALUES;

CREATE INDEX change_log_time_idx ON change_log (change_time);
CREATE INDEX change_log_actor_idx ON change_log (actor, sequence);
