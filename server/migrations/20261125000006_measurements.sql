-- Measurements of goal targets (append-only) and the stored progress state of each target.

CREATE TABLE measurements (
    goal_id      text NOT NULL REFERENCES policy_goals (id) ON DELETE CASCADE,
    -- Server-chosen: 32 lowercase hex digits (a UUID without hyphens).
    id           text NOT NULL CHECK (id ~ '^[0-9a-f]{32}$'),
    -- Recording order: among measurements observed at the same time, the last recorded wins.
    seq          bigint GENERATED ALWAYS AS IDENTITY,
    metric       text NOT NULL CHECK (metric ~ '^[a-z][a-z0-9-]{0,62}$'),
    value        double precision NOT NULL CHECK (value NOT IN ('NaN'::float8, 'Infinity'::float8, '-Infinity'::float8)),
    observe_time timestamptz NOT NULL,
    source       text NOT NULL DEFAULT '',
    note         text NOT NULL DEFAULT '',
    create_time  timestamptz NOT NULL DEFAULT now(),
    recorder     text NOT NULL,
    PRIMARY KEY (goal_id, id)
);

-- ListMeasurements: one goal, ordered by (observe_time, id), keyset paging.
CREATE INDEX measurements_list_idx ON measurements (goal_id, observe_time, id);
-- Progress: the earliest and the latest measurement of each (goal, metric) (DISTINCT ON,
-- forward and backward scans); also ListMeasurements with a metric.
CREATE INDEX measurements_progress_idx ON measurements (goal_id, metric, observe_time, seq);

-- The computed state of every target of the goal (distinct short names of
-- TargetProgress.State), recomputed in the transaction that records a measurement or changes
-- the goal's targets; `progress_state = X` is `progress_states @> ARRAY[X]`.
ALTER TABLE policy_goals ADD COLUMN progress_states text[] NOT NULL DEFAULT '{}'
    CHECK (progress_states <@ ARRAY['NO_DATA', 'ON_TRACK', 'AT_RISK', 'OFF_TRACK', 'ACHIEVED']);
-- No measurements exist yet: every target of an existing goal has no data.
UPDATE policy_goals SET progress_states = ARRAY['NO_DATA'] WHERE jsonb_array_length(targets) > 0;
CREATE INDEX policy_goals_progress_states_idx ON policy_goals USING gin (progress_states);

-- Live goals by id: the default List order (and its keyset pages) and an index-only count for
-- the exact `total_size` of an unfiltered List (about 2x faster than a sequential scan on
-- 100k goals; docs/querying.md).
CREATE INDEX policy_goals_live_id_idx ON policy_goals (id) WHERE delete_time IS NULL;
