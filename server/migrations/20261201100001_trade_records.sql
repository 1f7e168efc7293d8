-- Product-level trade records (HS 6-digit), with every revision kept, and per product-year
-- world statistics kept current by each load (docs/dependencies.md). The server validates codes
-- (ISO alpha-2, 6 digits); the checks here are cheap ones, as bulk loads pay for each per row.

CREATE TABLE trade_records (
    year        int    NOT NULL CHECK (year BETWEEN 1900 AND 2200),
    exporter    text   COLLATE "C" NOT NULL CHECK (octet_length(exporter) = 2),
    importer    text   COLLATE "C" NOT NULL CHECK (octet_length(importer) = 2),
    product     text   COLLATE "C" NOT NULL CHECK (octet_length(product) = 6),
    revision    int    NOT NULL CHECK (revision > 0),
    hs_edition  text   NOT NULL DEFAULT '',
    value_usd   bigint NOT NULL CHECK (value_usd >= 0),
    quantity_kg bigint CHECK (quantity_kg >= 0),
    source      text   NOT NULL DEFAULT '',
    estimated   boolean NOT NULL DEFAULT false,
    -- This version is the figure from valid_from until valid_to (NULL: still current).
    valid_from  timestamptz NOT NULL,
    valid_to    timestamptz,
    PRIMARY KEY (year, exporter, importer, product, revision),
    CHECK (exporter <> importer),
    CHECK (valid_to IS NULL OR valid_to >= valid_from)
);

-- An importer's current imports, and a country's current exports, by year and product.
CREATE INDEX trade_records_importer_idx ON trade_records (importer, year, product) WHERE valid_to IS NULL;
CREATE INDEX trade_records_exporter_idx ON trade_records (exporter, year, product) WHERE valid_to IS NULL;

-- World statistics of each product-year over the current records: the HHI of exports across
-- exporters (shares 0..1), how many importers and exporters the data covers, the total.
CREATE TABLE trade_product_stats (
    year             int    NOT NULL,
    product          text   COLLATE "C" NOT NULL,
    world_export_hhi float8 NOT NULL,
    importer_count   int    NOT NULL,
    exporter_count   int    NOT NULL,
    world_value_usd  numeric NOT NULL,
    PRIMARY KEY (year, product)
);
