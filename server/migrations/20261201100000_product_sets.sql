-- Product sets: named, user-defined lists of HS 6-digit products (docs/dependencies.md).

CREATE TABLE product_sets (
    id           text PRIMARY KEY CHECK (id ~ '^[a-z][a-z0-9-]{0,62}$'),
    display_name text NOT NULL CHECK (display_name <> ''),
    description  text NOT NULL DEFAULT '',
    products     text[] NOT NULL DEFAULT '{}',
    labels       jsonb NOT NULL DEFAULT '{}',
    create_time  timestamptz NOT NULL,
    update_time  timestamptz NOT NULL,
    delete_time  timestamptz,
    expire_time  timestamptz,
    revision     bigint NOT NULL DEFAULT 1 CHECK (revision > 0),
    CHECK ((delete_time IS NULL) = (expire_time IS NULL))
);

CREATE INDEX product_sets_display_name_idx ON product_sets (display_name, id);
CREATE INDEX product_sets_products_idx ON product_sets USING gin (products);
CREATE INDEX product_sets_labels_idx ON product_sets USING gin (labels);
CREATE INDEX product_sets_expire_idx ON product_sets (expire_time) WHERE expire_time IS NOT NULL;
