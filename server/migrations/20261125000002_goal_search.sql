-- Indexes (and two helper functions) for ListPolicyGoals filters (AIP-160); see
-- server/src/store/filter.rs for the predicates they serve.

-- Trigram indexes make ILIKE '%text%' (the `search` field, `title:"text"`) and wildcard
-- patterns (`title = "*AI*"`) indexable. pg_trgm is a trusted extension (PostgreSQL 13+), so
-- the database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE INDEX policy_goals_title_trgm_idx ON policy_goals USING gin (title gin_trgm_ops);
CREATE INDEX policy_goals_title_ko_trgm_idx ON policy_goals USING gin (title_ko gin_trgm_ops);
CREATE INDEX policy_goals_description_trgm_idx ON policy_goals USING gin (description gin_trgm_ops);
CREATE INDEX policy_goals_lead_organization_trgm_idx ON policy_goals USING gin (lead_organization gin_trgm_ops);

-- Containment on repeated fields (`sectors:x` is `sectors @> ARRAY[x]`), labels
-- (`labels @> {"k": "v"}`, `labels ? k`) and target years (`targets @> [{"target_year": n}]`).
CREATE INDEX policy_goals_sectors_idx ON policy_goals USING gin (sectors);
CREATE INDEX policy_goals_regions_idx ON policy_goals USING gin (regions);
CREATE INDEX policy_goals_linked_partners_idx ON policy_goals USING gin (linked_partners);
CREATE INDEX policy_goals_labels_idx ON policy_goals USING gin (labels);
CREATE INDEX policy_goals_targets_idx ON policy_goals USING gin (targets jsonb_path_ops);

-- Equality on the enums and the lead organization (also ordering by it).
CREATE INDEX policy_goals_pillar_state_idx ON policy_goals (pillar, state);
CREATE INDEX policy_goals_state_idx ON policy_goals (state);
CREATE INDEX policy_goals_lead_organization_idx ON policy_goals (lead_organization, id);

-- `targets.target_year < n` holds when some target is before n, i.e. when the earliest one
-- is; likewise `>` and the latest one. NULL for a goal without targets (never matches).
CREATE FUNCTION policy_goal_min_target_year(targets jsonb) RETURNS integer
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT min((t ->> 'target_year')::integer) FROM jsonb_array_elements(targets) AS t $$;

CREATE FUNCTION policy_goal_max_target_year(targets jsonb) RETURNS integer
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT max((t ->> 'target_year')::integer) FROM jsonb_array_elements(targets) AS t $$;

CREATE INDEX policy_goals_min_target_year_idx ON policy_goals (policy_goal_min_target_year(targets));
CREATE INDEX policy_goals_max_target_year_idx ON policy_goals (policy_goal_max_target_year(targets));
