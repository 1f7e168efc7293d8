-- Trade partners, their members, goal links and yearly trade flows.

CREATE TABLE trade_partners (
    id              text PRIMARY KEY CHECK (id ~ '^[a-z][a-z0-9-]{0,62}$'),
    kind            text NOT NULL CHECK (kind IN ('COUNTRY', 'ECONOMIC_BLOC', 'FORUM', 'GROUP')),
    display_name    text NOT NULL CHECK (display_name <> ''),
    display_name_ko text NOT NULL DEFAULT '',
    region          text NOT NULL DEFAULT '',
    priority        text CHECK (priority IN ('LOW', 'MEDIUM', 'HIGH', 'STRATEGIC')),
    agreements      jsonb NOT NULL DEFAULT '[]',
    engagements     jsonb NOT NULL DEFAULT '[]',
    risks           jsonb NOT NULL DEFAULT '[]',
    source          text NOT NULL DEFAULT '',
    labels          jsonb NOT NULL DEFAULT '{}',
    create_time     timestamptz NOT NULL,
    update_time     timestamptz NOT NULL,
    delete_time     timestamptz,
    expire_time     timestamptz,
    revision        bigint NOT NULL DEFAULT 1 CHECK (revision > 0),
    CHECK (kind <> 'COUNTRY' OR id ~ '^[a-z]{2}$'),
    CHECK ((delete_time IS NULL) = (expire_time IS NULL))
);

CREATE INDEX trade_partners_display_name_idx ON trade_partners (display_name, id);
CREATE INDEX trade_partners_kind_idx ON trade_partners (kind, id);
CREATE INDEX trade_partners_agreements_idx ON trade_partners USING gin (agreements jsonb_path_ops);
CREATE INDEX trade_partners_risks_idx ON trade_partners USING gin (risks jsonb_path_ops);
CREATE INDEX trade_partners_labels_idx ON trade_partners USING gin (labels);
CREATE INDEX trade_partners_expire_idx ON trade_partners (expire_time) WHERE expire_time IS NOT NULL;

-- Members of a bloc, forum or group (countries), in the order given.
CREATE TABLE partner_members (
    group_id  text NOT NULL REFERENCES trade_partners (id) ON DELETE CASCADE,
    member_id text NOT NULL REFERENCES trade_partners (id) ON DELETE RESTRICT,
    position  int  NOT NULL,
    PRIMARY KEY (group_id, member_id),
    CHECK (group_id <> member_id)
);
CREATE INDEX partner_members_member_idx ON partner_members (member_id);

-- Goals ↔ partners (`PolicyGoal.linked_partners`), kept with the goal in one transaction. The
-- foreign keys make a link to a partner that was never created impossible.
CREATE TABLE goal_partner_links (
    goal_id    text NOT NULL REFERENCES policy_goals (id) ON DELETE CASCADE,
    partner_id text NOT NULL REFERENCES trade_partners (id) ON DELETE RESTRICT,
    PRIMARY KEY (goal_id, partner_id)
);
CREATE INDEX goal_partner_links_partner_idx ON goal_partner_links (partner_id);
INSERT INTO goal_partner_links (goal_id, partner_id)
SELECT g.id, p FROM policy_goals g, unnest(g.linked_partners) AS p
WHERE EXISTS (SELECT 1 FROM trade_partners t WHERE t.id = p);

CREATE TABLE trade_flows (
    partner_id  text NOT NULL REFERENCES trade_partners (id) ON DELETE CASCADE,
    year        int NOT NULL CHECK (year BETWEEN 1900 AND 2200),
    exports_usd bigint NOT NULL CHECK (exports_usd >= 0),
    imports_usd bigint NOT NULL CHECK (imports_usd >= 0),
    source      text NOT NULL DEFAULT '',
    estimated   boolean NOT NULL DEFAULT false,
    create_time timestamptz NOT NULL,
    update_time timestamptz NOT NULL,
    revision    bigint NOT NULL DEFAULT 1 CHECK (revision > 0),
    PRIMARY KEY (partner_id, year)
);
CREATE INDEX trade_flows_year_idx ON trade_flows (year, partner_id);
