//! The import-dependency analysis of the figures as stored at a past time ("what did we know
//! on date X"): the versions of the records valid then, and the world statistics recomputed
//! from them (the stored statistics describe the current figures only). Slower than the
//! current-figures reads of `trade.rs`: it reads every version of the years asked.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use super::{Store, db_error, trade::Dominance};
use crate::domain::{
    Error,
    dependency::{World, YearData},
    trade::{Dominated, dominated, flow_range},
};

/// The versions valid at `$4` of the flows of the years `$2..=$3` of the products `importer`
/// (`$1`) imported in `$3` (only `$5`, when not NULL): its imports by supplier (`M`), its
/// exports (`X`) and the world statistics of each product-year (`W`). `$6..=$7` are the flows
/// of those years, `$8..=$7` those of the year `$3` ([`flow_range`]): ranges of the primary key.
const DEPENDENCY_DATA_AT: &str = "WITH r AS (
    SELECT year, exporter, importer, product, value_usd FROM trade_records
    WHERE flow BETWEEN $6 AND $7 AND year BETWEEN $2 AND $3 AND valid_from <= $4 AND (valid_to IS NULL OR valid_to > $4)
      AND ($5::text[] IS NULL OR product = ANY($5))
      AND product IN (SELECT product FROM trade_records
                      WHERE flow BETWEEN $8 AND $7 AND importer = $1 AND year = $3 AND value_usd > 0
                        AND valid_from <= $4 AND (valid_to IS NULL OR valid_to > $4))
), by_exporter AS (
    SELECT year, product, exporter, sum(value_usd::float8) AS v FROM r GROUP BY 1, 2, 3
), importers AS (
    SELECT year, product, count(DISTINCT importer)::int AS n FROM r GROUP BY 1, 2
)
SELECT 'M' AS kind, year, product, exporter, value_usd, 0::float8 AS hhi, 0 AS n FROM r WHERE importer = $1
UNION ALL
SELECT 'X', year, product, '', sum(value_usd)::bigint, 0, 0 FROM r WHERE exporter = $1 GROUP BY year, product
UNION ALL
SELECT 'W', e.year, e.product, '', 0,
       CASE WHEN sum(e.v) > 0 THEN sum(e.v * e.v) / (sum(e.v) ^ 2) ELSE 0 END, i.n
FROM by_exporter e JOIN importers i ON i.year = e.year AND i.product = e.product
GROUP BY e.year, e.product, i.n";

type Row = (String, i32, String, String, i64, f64, i32);

impl Store {
    /// [`Store::dependency_data`] of the figures as stored at `at`.
    pub async fn dependency_data_at(
        &self,
        importer: &str,
        years: std::ops::RangeInclusive<i32>,
        products: Option<&[String]>,
        at: OffsetDateTime,
    ) -> Result<BTreeMap<String, BTreeMap<i32, YearData>>, Error> {
        let (first, _) = flow_range(*years.start(), None);
        let (last_year_first, last) = flow_range(*years.end(), None);
        let rows: Vec<Row> = sqlx::query_as(DEPENDENCY_DATA_AT)
            .bind(importer)
            .bind(*years.start())
            .bind(*years.end())
            .bind(at)
            .bind(products)
            .bind(first)
            .bind(last)
            .bind(last_year_first)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        let mut out: BTreeMap<String, BTreeMap<i32, YearData>> = BTreeMap::new();
        for (kind, year, product, exporter, value, hhi, importers) in rows {
            let d = out.entry(product).or_default().entry(year).or_default();
            match kind.as_str() {
                "M" => d.imports.push((exporter, value)),
                "X" => d.exports_usd = value,
                _ => {
                    d.world = Some(World {
                        export_hhi: hhi,
                        importer_count: importers,
                    })
                }
            }
        }
        Ok(out)
    }

    /// [`Store::dominated_products`] of the figures as stored at `at`.
    pub async fn dominated_products_at(&self, q: &Dominance<'_>, at: OffsetDateTime) -> Result<Vec<Dominated>, Error> {
        let (first, last) = flow_range(q.year, None);
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT product, exporter, value_usd FROM trade_records
             WHERE flow BETWEEN $5 AND $6 AND importer = $1 AND year = $2 AND valid_from <= $3 AND (valid_to IS NULL OR valid_to > $3)
               AND ($4::text[] IS NULL OR product = ANY($4))",
        )
        .bind(q.importer)
        .bind(q.year)
        .bind(at)
        .bind(q.products)
        .bind(first)
        .bind(last)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(dominated(rows, q.supplier, q.min_share))
    }
}
