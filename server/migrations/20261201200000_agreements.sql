-- Agreements as records of their own (`agreements/{agreement}`): parties, kind and dated
-- lifecycle events; `status` is derived from the events by the server (NULL = unknown).

CREATE TABLE agreements (
    id          text PRIMARY KEY CHECK (id ~ '^[a-z][a-z0-9-]{0,62}$'),
    title       text NOT NULL CHECK (title <> ''),
    title_ko    text NOT NULL DEFAULT '',
    kind        text NOT NULL CHECK (kind IN ('FTA', 'CEPA', 'TARIFF_ARRANGEMENT', 'MOU', 'FRAMEWORK', 'OTHER')),
    parties     text[] NOT NULL CHECK (cardinality(parties) > 0),
    events      jsonb NOT NULL DEFAULT '[]',
    status      text CHECK (status IN ('IN_NEGOTIATION', 'CONCLUDED', 'SIGNED', 'IN_FORCE', 'SUSPENDED', 'TERMINATED')),
    description text NOT NULL DEFAULT '',
    source      text NOT NULL DEFAULT '',
    labels      jsonb NOT NULL DEFAULT '{}',
    create_time timestamptz NOT NULL,
    update_time timestamptz NOT NULL,
    delete_time timestamptz,
    expire_time timestamptz,
    revision    bigint NOT NULL DEFAULT 1 CHECK (revision > 0),
    CHECK ((delete_time IS NULL) = (expire_time IS NULL))
);

CREATE INDEX agreements_title_idx ON agreements (title, id);
CREATE INDEX agreements_kind_idx ON agreements (kind, id);
CREATE INDEX agreements_parties_idx ON agreements USING gin (parties);
CREATE INDEX agreements_events_idx ON agreements USING gin (events jsonb_path_ops);
CREATE INDEX agreements_labels_idx ON agreements USING gin (labels);
CREATE INDEX agreements_expire_idx ON agreements (expire_time) WHERE expire_time IS NOT NULL;
