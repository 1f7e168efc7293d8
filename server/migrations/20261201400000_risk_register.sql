-- The risk register (RiskEntry, `risks/{risk}`): one record per risk, linked to the goals and
-- partners it threatens. Links are checked live by the store (like goals' linked partners);
-- `category` and `state` hold the short enum name, '' when unspecified.
CREATE TABLE risks (
    id                 text PRIMARY KEY CHECK (id ~ '^[a-z][a-z0-9-]{0,62}$'),
    title              text NOT NULL CHECK (title <> ''),
    title_ko           text NOT NULL DEFAULT '',
    category           text NOT NULL DEFAULT '',
    description        text NOT NULL DEFAULT '',
    likelihood         integer NOT NULL DEFAULT 0 CHECK (likelihood BETWEEN 0 AND 5),
    impact             integer NOT NULL DEFAULT 0 CHECK (impact BETWEEN 0 AND 5),
    owner_organization text NOT NULL DEFAULT '',
    mitigation         text NOT NULL DEFAULT '',
    state              text NOT NULL DEFAULT '',
    source             text NOT NULL DEFAULT '',
    labels             jsonb NOT NULL DEFAULT '{}',
    goals              text[] NOT NULL DEFAULT '{}',
    partners           text[] NOT NULL DEFAULT '{}',
    create_time        timestamptz NOT NULL,
    update_time        timestamptz NOT NULL,
    delete_time        timestamptz,
    expire_time        timestamptz,
    revision           bigint NOT NULL DEFAULT 1 CHECK (revision > 0),
    CHECK ((delete_time IS NULL) = (expire_time IS NULL))
);

CREATE INDEX risks_title_idx ON risks (title, id);
CREATE INDEX risks_goals_idx ON risks USING gin (goals);
CREATE INDEX risks_partners_idx ON risks USING gin (partners);
CREATE INDEX risks_labels_idx ON risks USING gin (labels);
CREATE INDEX risks_expire_idx ON risks (expire_time) WHERE expire_time IS NOT NULL;
