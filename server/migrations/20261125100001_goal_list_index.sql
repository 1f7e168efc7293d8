-- ListPolicyGoals on live goals filtered by pillar and/or state (the common dashboard query):
-- the exact `total_size` count becomes an index-only scan instead of visiting every heap page
-- to check `delete_time`, and the keyset page (`ORDER BY id`) reads only matching entries.
CREATE INDEX policy_goals_live_pillar_state_idx ON policy_goals (pillar, state, id) WHERE delete_time IS NULL;
