-- Check-ins (`policyGoals/{goal}/checkIns/{check_in}`): dated status updates on a goal,
-- append-only (never updated or deleted; a newer check-in corrects an older one). Ids are
-- unique in the registry (client-chosen slugs, or `c` + 32 hex digits chosen by the server),
-- so that the resource layer reads a check-in by its id alone.
CREATE TABLE check_ins (
    id            text PRIMARY KEY CHECK (id ~ '^[a-z][a-z0-9-]{0,62}$'),
    goal_id       text NOT NULL REFERENCES policy_goals (id) ON DELETE CASCADE,
    check_in_time timestamptz NOT NULL,
    confidence    text NOT NULL CHECK (confidence IN ('ON_TRACK', 'AT_RISK', 'OFF_TRACK')),
    note          text NOT NULL DEFAULT '',
    author        text NOT NULL DEFAULT '',
    source        text NOT NULL DEFAULT '',
    quote         text NOT NULL DEFAULT '',
    create_time   timestamptz NOT NULL DEFAULT now(),
    creator       text NOT NULL
);

-- ListCheckIns of one goal, newest first (the default order), and the goal's latest.
CREATE INDEX check_ins_goal_time_idx ON check_ins (goal_id, check_in_time DESC, create_time DESC, id);

-- The goal's newest check-in (by check_in_time, then create_time, then id), kept in the
-- transaction that records a check-in, so that goal reads need no join; its confidence on its
-- own for `latest_confidence = AT_RISK`.
ALTER TABLE policy_goals
    ADD COLUMN latest_check_in jsonb,
    ADD COLUMN latest_confidence text NOT NULL DEFAULT ''
        CHECK (latest_confidence IN ('', 'ON_TRACK', 'AT_RISK', 'OFF_TRACK'));
CREATE INDEX policy_goals_latest_confidence_idx ON policy_goals (latest_confidence) WHERE latest_confidence <> '';
