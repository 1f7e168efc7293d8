-- Per importer, year and product, the figures the import-dependency analysis reads, kept
-- current by each load for the product-years it touches (docs/dependencies.md): the
-- importer's imports summed over its suppliers (total, HHI, largest supplier, how many) and
-- its own exports of the product. The analysis then reads one row per product-year instead of
-- every supplier's flow.

CREATE TABLE trade_country_stats (
    country          text   COLLATE "C" NOT NULL,
    year             int    NOT NULL,
    product          text   COLLATE "C" NOT NULL,
    -- Sum of the current imports over suppliers (USD, capped at the largest bigint).
    import_value_usd bigint NOT NULL,
    -- HHI of the imports across suppliers, shares 0..1 (0 when nothing was imported).
    import_hhi       float8 NOT NULL,
    -- The largest supplier (ties: the first code) and its value; NULL when nothing was imported.
    top_supplier     text   COLLATE "C",
    top_value_usd    bigint NOT NULL,
    -- Suppliers with a value above zero.
    supplier_count   int    NOT NULL,
    -- Sum of the current exports to every importer (USD, capped).
    export_value_usd bigint NOT NULL,
    PRIMARY KEY (country, year, product)
);

-- The statistics of the stored records (the load keeps them current from now on).
INSERT INTO trade_country_stats
SELECT i.country, i.year, i.product, i.import_value_usd, i.import_hhi, i.top_supplier, i.top_value_usd,
       i.supplier_count, coalesce(e.export_value_usd, 0)
FROM (
    SELECT importer AS country, year, product,
           least(sum(value_usd), 9223372036854775807)::bigint AS import_value_usd,
           CASE WHEN sum(value_usd) > 0
                THEN sum(value_usd::float8 * value_usd::float8) / sum(value_usd::float8) ^ 2 ELSE 0 END AS import_hhi,
           (array_agg(exporter ORDER BY value_usd DESC, exporter) FILTER (WHERE value_usd > 0))[1] AS top_supplier,
           max(value_usd) AS top_value_usd,
           count(*) FILTER (WHERE value_usd > 0)::int AS supplier_count
    FROM trade_records WHERE valid_to IS NULL
    GROUP BY 1, 2, 3
) i
LEFT JOIN (
    SELECT exporter AS country, year, product,
           least(sum(value_usd), 9223372036854775807)::bigint AS export_value_usd
    FROM trade_records WHERE valid_to IS NULL
    GROUP BY 1, 2, 3
) e ON e.country = i.country AND e.year = i.year AND e.product = i.product;

-- The analysis no longer reads the records by importer or exporter, and listing them by
-- importer or exporter within a year follows the primary key (year, exporter, importer,
-- product): a bulk load maintains one B-tree instead of three.
DROP INDEX trade_records_importer_idx;
DROP INDEX trade_records_exporter_idx;
