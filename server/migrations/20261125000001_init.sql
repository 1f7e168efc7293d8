-- Policy & Partner Registry: initial schema.

-- Secrets the server generates once and every replica shares (page-token signing key).
CREATE TABLE registry_secrets (
    name        text PRIMARY KEY,
    value       bytea NOT NULL,
    create_time timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE policy_goals (
    id                text PRIMARY KEY CHECK (id ~ '^[a-z][a-z0-9-]{0,62}$'),
    parent_id         text REFERENCES policy_goals (id) ON DELETE RESTRICT,
    -- Ancestor ids, root first; maintained by the store under the goal-tree lock.
    ancestors         text[] NOT NULL DEFAULT '{}',
    title             text NOT NULL CHECK (title <> ''),
    title_ko          text NOT NULL DEFAULT '',
    pillar            text NOT NULL CHECK (pillar IN ('INDUSTRIAL_RESURGENCE', 'TRADE_NATIONAL_INTEREST', 'SUSTAINABLE_GROWTH_PARTNERSHIP')),
    description       text NOT NULL DEFAULT '',
    sectors           text[] NOT NULL DEFAULT '{}',
    regions           text[] NOT NULL DEFAULT '{}',
    lead_organization text NOT NULL DEFAULT '',
    state             text NOT NULL CHECK (state IN ('PLANNED', 'ACTIVE', 'ON_HOLD', 'CLOSED')),
    outcome           text CHECK ((state = 'CLOSED') = (outcome IS NOT NULL)),
    confidence        text,
    confidence_note   text NOT NULL DEFAULT '',
    targets           jsonb NOT NULL DEFAULT '[]',
    milestones        jsonb NOT NULL DEFAULT '[]',
    linked_partners   text[] NOT NULL DEFAULT '{}',
    risks             jsonb NOT NULL DEFAULT '[]',
    source            text NOT NULL DEFAULT '',
    labels            jsonb NOT NULL DEFAULT '{}',
    create_time       timestamptz NOT NULL,
    update_time       timestamptz NOT NULL,
    delete_time       timestamptz,
    expire_time       timestamptz,
    revision          bigint NOT NULL DEFAULT 1 CHECK (revision > 0),
    CHECK (parent_id IS NULL OR parent_id <> id),
    CHECK ((delete_time IS NULL) = (expire_time IS NULL))
);

CREATE INDEX policy_goals_parent_idx ON policy_goals (parent_id);
CREATE INDEX policy_goals_ancestors_idx ON policy_goals USING gin (ancestors);
CREATE INDEX policy_goals_title_idx ON policy_goals (title, id);
CREATE INDEX policy_goals_create_time_idx ON policy_goals (create_time, id);
CREATE INDEX policy_goals_update_time_idx ON policy_goals (update_time, id);
CREATE INDEX policy_goals_expire_idx ON policy_goals (expire_time) WHERE expire_time IS NOT NULL;

-- Idempotency keys (AIP-155): the original response of a Create/Record, kept for a window.
CREATE TABLE request_ids (
    method        text NOT NULL,
    request_id    text NOT NULL,
    request_hash  bytea NOT NULL,
    response      jsonb,
    create_time   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (method, request_id)
);
CREATE INDEX request_ids_create_time_idx ON request_ids (create_time);

-- The change log: one row per mutation, appended in the same transaction as the mutation.
-- `sequence` is assigned while holding a transaction-scoped advisory lock that is released at
-- commit, so sequences become visible in order and a reader never skips a late committer.
CREATE SEQUENCE change_log_sequence AS bigint;
CREATE TABLE change_log (
    sequence      bigint PRIMARY KEY,
    resource_type text NOT NULL,
    resource_name text NOT NULL,
    change_kind   text NOT NULL CHECK (change_kind IN ('CREATED', 'UPDATED', 'DELETED', 'UNDELETED', 'PURGED')),
    actor         text NOT NULL,
    request_id    text,
    update_mask   text[] NOT NULL DEFAULT '{}',
    change_time   timestamptz NOT NULL DEFAULT clock_timestamp(),
    snapshot      jsonb
);
CREATE INDEX change_log_resource_idx ON change_log (resource_name, sequence);
