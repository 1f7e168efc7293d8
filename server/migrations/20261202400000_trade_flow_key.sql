-- Trade records keyed by one integer per flow instead of three text columns and the year: a
-- bulk load compares, joins and indexes 8-byte integers (docs/dependencies.md, "Performance").
-- `flow` packs year − 1900 (bits 40 and up), exporter and importer (10 bits each: their two
-- letters A–Z, base 26) and the product's six digits (low 20 bits), so numbers order as
-- (year, exporter, importer, product) do, and a year, or a year and exporter, is one range.
-- The server computes it for every record it stores (domain::trade::flow); this is the same
-- computation for the records already stored. The text columns stay what the reads return.

ALTER TABLE trade_records ADD COLUMN flow bigint;

UPDATE trade_records SET flow =
      ((year - 1900)::bigint << 40)
    | (((ascii(exporter) - 65) * 26 + ascii(substr(exporter, 2)) - 65)::bigint << 30)
    | (((ascii(importer) - 65) * 26 + ascii(substr(importer, 2)) - 65)::bigint << 20)
    | product::bigint;

ALTER TABLE trade_records
    ALTER COLUMN flow SET NOT NULL,
    DROP CONSTRAINT trade_records_pkey,
    ADD PRIMARY KEY (flow, revision);
