//! Product-level trade records in PostgreSQL: the bulk load (COPY into a staging table, then
//! one merge that keeps earlier versions), the reads of the import-dependency analysis and
//! the per product-year world statistics kept current by every load.

use std::collections::BTreeMap;

use sqlx::{Postgres, QueryBuilder, Transaction};
use time::OffsetDateTime;

use super::{Store, db_error, lock, page::Key};
use crate::domain::{
    Error,
    dependency::{World, YearData},
    list::{Cursor, KeyType, SortValue},
    trade::{Dominated, LoadCounts, StoredRecord, TradeRecord},
};

/// Loads that change at least this many flows refresh the table's statistics.
const ANALYZE_AFTER: i64 = 10_000;

/// Serialises loads: two loads of the same flows must not both add a revision.
const TRADE_LOAD_LOCK: i64 = 0x7265_6769_0010;

/// A load in progress: one transaction, a staging table, COPY of each chunk.
#[derive(Debug)]
pub struct TradeLoad {
    tx: Transaction<'static, Postgres>,
    received: i64,
}

/// Appends `s` to a COPY text-format field (backslash escapes).
fn push_text(buf: &mut Vec<u8>, s: &str) {
    for b in s.bytes() {
        match b {
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            _ => buf.push(b),
        }
    }
}

fn copy_rows(records: &[TradeRecord]) -> Vec<u8> {
    use std::io::Write;
    let mut buf = Vec::with_capacity(records.len() * 48);
    for r in records {
        // Writing to a Vec cannot fail.
        let _ = write!(buf, "{}\t{}\t{}\t{}\t", r.year, r.exporter, r.importer, r.product);
        push_text(&mut buf, &r.hs_edition);
        let _ = write!(buf, "\t{}\t", r.value_usd);
        match r.quantity_kg {
            Some(q) => {
                let _ = write!(buf, "{q}");
            }
            None => buf.extend_from_slice(b"\\N"),
        }
        buf.push(b'\t');
        push_text(&mut buf, &r.source);
        buf.extend_from_slice(if r.estimated { b"\tt\n" } else { b"\tf\n" });
    }
    buf
}

/// The merge: closes the current version of every flow whose figures changed, inserts the
/// new versions and the new flows, and notes the product-years touched.
const MERGE: &str = "WITH closed AS (
    UPDATE trade_records t SET valid_to = now()
    FROM trade_staging s
    WHERE t.year = s.year AND t.exporter = s.exporter AND t.importer = s.importer AND t.product = s.product
      AND t.valid_to IS NULL
      AND (t.value_usd, t.quantity_kg, t.hs_edition, t.source, t.estimated)
          IS DISTINCT FROM (s.value_usd, s.quantity_kg, s.hs_edition, s.source, s.estimated)
    RETURNING t.year, t.exporter, t.importer, t.product, t.revision
), ins AS (
    INSERT INTO trade_records (year, exporter, importer, product, revision, hs_edition, value_usd, quantity_kg,
                               source, estimated, valid_from)
    SELECT s.year, s.exporter, s.importer, s.product, coalesce(c.revision, 0) + 1, s.hs_edition, s.value_usd,
           s.quantity_kg, s.source, s.estimated, now()
    FROM trade_staging s
    LEFT JOIN closed c ON c.year = s.year AND c.exporter = s.exporter AND c.importer = s.importer AND c.product = s.product
    WHERE c.revision IS NOT NULL OR NOT EXISTS (
        SELECT 1 FROM trade_records t
        WHERE t.year = s.year AND t.exporter = s.exporter AND t.importer = s.importer AND t.product = s.product
          AND t.valid_to IS NULL)
    RETURNING year, product, revision
), touched AS (
    INSERT INTO trade_touched SELECT DISTINCT year, product FROM ins
    RETURNING 1
)
SELECT (SELECT count(*) FROM ins WHERE revision = 1), (SELECT count(*) FROM ins WHERE revision > 1),
       (SELECT count(*) FROM touched)";

/// Recomputes the world statistics of the touched product-years from the current records.
const RECOMPUTE_STATS: &str = "INSERT INTO trade_product_stats
    (year, product, world_export_hhi, importer_count, exporter_count, world_value_usd)
SELECT year, product,
       -- HHI = sum over exporters of (V_e / total)^2; each of an exporter's n_e rows adds V_e^2 / n_e.
       CASE WHEN sum(v) > 0 THEN sum(ve * ve / ne) / (sum(v) ^ 2) ELSE 0 END,
       count(DISTINCT importer), count(DISTINCT exporter), sum(v)::numeric
FROM (
    SELECT t.year, t.product, t.exporter, t.importer, t.value_usd::float8 AS v,
           sum(t.value_usd::float8) OVER w AS ve, count(*) OVER w AS ne
    FROM trade_records t JOIN trade_touched a ON a.year = t.year AND a.product = t.product
    WHERE t.valid_to IS NULL
    WINDOW w AS (PARTITION BY t.year, t.product, t.exporter)
) x
GROUP BY year, product
ON CONFLICT (year, product) DO UPDATE SET world_export_hhi = excluded.world_export_hhi,
    importer_count = excluded.importer_count, exporter_count = excluded.exporter_count,
    world_value_usd = excluded.world_value_usd";

impl TradeLoad {
    /// Stages a chunk of records (COPY).
    pub async fn stage(&mut self, records: &[TradeRecord]) -> Result<(), Error> {
        if records.is_empty() {
            return Ok(());
        }
        let mut copy = self
            .tx
            .copy_in_raw("COPY trade_staging FROM STDIN (FORMAT text)")
            .await
            .map_err(db_error)?;
        if let Err(e) = copy.send(copy_rows(records)).await {
            let _ = copy.abort("the load failed").await;
            return Err(db_error(e));
        }
        copy.finish().await.map_err(db_error)?;
        self.received += records.len() as i64;
        Ok(())
    }

    /// Merges the staged records and commits (or rolls back for `validate_only`).
    pub async fn finish(mut self, validate_only: bool) -> Result<LoadCounts, Error> {
        let dup: Option<(i32, String, String, String)> = sqlx::query_as(
            "SELECT year, exporter, importer, product FROM trade_staging
             GROUP BY 1, 2, 3, 4 HAVING count(*) > 1 LIMIT 1",
        )
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(db_error)?;
        if let Some((year, e, i, p)) = dup {
            return Err(Error::invalid(
                "records",
                format!("the flow {year} {e}->{i} of product {p} is given more than once"),
            ));
        }
        lock(&mut self.tx, TRADE_LOAD_LOCK, false).await?;
        let (inserted, revised, product_years): (i64, i64, i64) =
            sqlx::query_as(MERGE).fetch_one(&mut *self.tx).await.map_err(db_error)?;
        if product_years > 0 {
            // After a bulk change, fresh statistics (ANALYZE samples, so this costs little
            // even on a large table) keep the plans of this and later queries sound.
            let analyze = if inserted + revised >= ANALYZE_AFTER {
                "ANALYZE trade_touched, trade_records"
            } else {
                "ANALYZE trade_touched"
            };
            sqlx::query(analyze).execute(&mut *self.tx).await.map_err(db_error)?;
            sqlx::query(RECOMPUTE_STATS)
                .execute(&mut *self.tx)
                .await
                .map_err(db_error)?;
        }
        if validate_only {
            self.tx.rollback().await.map_err(db_error)?;
        } else {
            self.tx.commit().await.map_err(db_error)?;
        }
        Ok(LoadCounts {
            received: self.received,
            inserted,
            revised,
            product_years,
        })
    }
}

#[derive(sqlx::FromRow)]
struct RecordRow {
    year: i32,
    exporter: String,
    importer: String,
    product: String,
    revision: i32,
    hs_edition: String,
    value_usd: i64,
    quantity_kg: Option<i64>,
    source: String,
    estimated: bool,
    valid_from: OffsetDateTime,
}

/// A filter of trade records of one year.
#[derive(Debug, Clone, Default)]
pub struct RecordQuery {
    pub year: i32,
    pub importer: Option<String>,
    pub exporter: Option<String>,
    pub product: Option<String>,
    pub read_time: Option<OffsetDateTime>,
    pub page_size: usize,
    pub page_token: String,
    pub fingerprint: String,
}

/// One page of trade records.
#[derive(Debug, Clone)]
pub struct RecordPage {
    pub records: Vec<StoredRecord>,
    pub next_page_token: String,
}

fn add_products(qb: &mut QueryBuilder<Postgres>, products: Option<&[String]>) {
    if let Some(p) = products {
        qb.push(" AND product = ANY(").push_bind(p.to_vec()).push(")");
    }
}

impl Store {
    /// Starts a load: a transaction with an empty staging table.
    pub async fn begin_trade_load(&self) -> Result<TradeLoad, Error> {
        let mut tx = self.begin().await?;
        for sql in [
            "CREATE TEMP TABLE trade_staging (year int NOT NULL, exporter text NOT NULL, importer text NOT NULL,
                product text NOT NULL, hs_edition text NOT NULL, value_usd bigint NOT NULL, quantity_kg bigint,
                source text NOT NULL, estimated boolean NOT NULL) ON COMMIT DROP",
            "CREATE TEMP TABLE trade_touched (year int NOT NULL, product text NOT NULL) ON COMMIT DROP",
        ] {
            sqlx::query(sql).execute(&mut *tx).await.map_err(db_error)?;
        }
        Ok(TradeLoad { tx, received: 0 })
    }

    /// Lists the records of a year (current, or as stored at `read_time`), by exporter,
    /// importer and product.
    pub async fn list_trade_records(&self, q: &RecordQuery) -> Result<RecordPage, Error> {
        const KEYS: [Key; 3] = [
            Key::asc("exporter", KeyType::Text),
            Key::asc("importer", KeyType::Text),
            Key::asc("product", KeyType::Text),
        ];
        let pager = self.pager(&q.fingerprint, &q.page_token, KEYS.to_vec(), q.page_size)?;
        let mut qb = QueryBuilder::<Postgres>::new("SELECT * FROM trade_records WHERE year = ");
        qb.push_bind(q.year);
        match q.read_time {
            None => {
                qb.push(" AND valid_to IS NULL");
            }
            Some(t) => {
                qb.push(" AND valid_from <= ")
                    .push_bind(t)
                    .push(" AND (valid_to IS NULL OR valid_to > ")
                    .push_bind(t)
                    .push(")");
            }
        }
        for (col, v) in [
            ("importer", &q.importer),
            ("exporter", &q.exporter),
            ("product", &q.product),
        ] {
            if let Some(v) = v {
                qb.push(" AND ").push(col).push(" = ").push_bind(v.clone());
            }
        }
        pager.push_after(&mut qb)?;
        pager.push_order_limit(&mut qb);
        let rows: Vec<RecordRow> = qb.build_query_as().fetch_all(&self.pool).await.map_err(db_error)?;
        let records: Vec<StoredRecord> = rows
            .into_iter()
            .map(|r| StoredRecord {
                record: TradeRecord {
                    year: r.year,
                    exporter: r.exporter,
                    importer: r.importer,
                    product: r.product,
                    hs_edition: r.hs_edition,
                    value_usd: r.value_usd,
                    quantity_kg: r.quantity_kg,
                    source: r.source,
                    estimated: r.estimated,
                },
                revision: r.revision,
                valid_from: r.valid_from,
            })
            .collect();
        let (records, next_page_token) = pager.finish(records, |r| {
            vec![
                SortValue::Text(r.record.exporter.clone()),
                SortValue::Text(r.record.importer.clone()),
                SortValue::Text(r.record.product.clone()),
            ]
        });
        Ok(RecordPage {
            records,
            next_page_token,
        })
    }

    /// The figures the dependency analysis of `importer` reads for `years`, by product and
    /// year: its imports by supplier, its exports, the world statistics. Only products it
    /// imported in the last of `years` are returned.
    pub async fn dependency_data(
        &self,
        importer: &str,
        years: std::ops::RangeInclusive<i32>,
        products: Option<&[String]>,
    ) -> Result<BTreeMap<String, BTreeMap<i32, YearData>>, Error> {
        let (first, last) = (*years.start(), *years.end());
        let mut qb = QueryBuilder::<Postgres>::new(
            "SELECT year, product, exporter, value_usd FROM trade_records WHERE valid_to IS NULL AND importer = ",
        );
        qb.push_bind(importer.to_owned())
            .push(" AND year BETWEEN ")
            .push_bind(first)
            .push(" AND ")
            .push_bind(last);
        add_products(&mut qb, products);
        let imports: Vec<(i32, String, String, i64)> =
            qb.build_query_as().fetch_all(&self.pool).await.map_err(db_error)?;
        let mut out: BTreeMap<String, BTreeMap<i32, YearData>> = BTreeMap::new();
        for (year, product, exporter, value) in imports {
            out.entry(product)
                .or_default()
                .entry(year)
                .or_default()
                .imports
                .push((exporter, value));
        }
        out.retain(|_, years| years.get(&last).is_some_and(|d| d.imports.iter().any(|(_, v)| *v > 0)));
        if out.is_empty() {
            return Ok(out);
        }
        let wanted: Vec<String> = out.keys().cloned().collect();
        let exports: Vec<(i32, String, i64)> = sqlx::query_as(
            "SELECT year, product, sum(value_usd)::bigint FROM trade_records
             WHERE valid_to IS NULL AND exporter = $1 AND year BETWEEN $2 AND $3 AND product = ANY($4)
             GROUP BY 1, 2",
        )
        .bind(importer)
        .bind(first)
        .bind(last)
        .bind(&wanted)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        for (year, product, value) in exports {
            if let Some(p) = out.get_mut(&product) {
                p.entry(year).or_default().exports_usd = value;
            }
        }
        let stats: Vec<(i32, String, f64, i32)> = sqlx::query_as(
            "SELECT year, product, world_export_hhi, importer_count FROM trade_product_stats
             WHERE year BETWEEN $1 AND $2 AND product = ANY($3)",
        )
        .bind(first)
        .bind(last)
        .bind(&wanted)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        for (year, product, hhi, n) in stats {
            if let Some(p) = out.get_mut(&product) {
                p.entry(year).or_default().world = Some(World {
                    export_hhi: hhi,
                    importer_count: n,
                });
            }
        }
        Ok(out)
    }

    /// The products `importer` bought in `year` whose top supplier is `supplier` with at
    /// least `min_share` of its imports, by product.
    pub async fn dominated_products(
        &self,
        importer: &str,
        supplier: &str,
        year: i32,
        min_share: f64,
        products: Option<&[String]>,
    ) -> Result<Vec<Dominated>, Error> {
        let mut qb = QueryBuilder::<Postgres>::new(
            "SELECT product, exporter, value_usd FROM trade_records WHERE valid_to IS NULL AND importer = ",
        );
        qb.push_bind(importer.to_owned())
            .push(" AND year = ")
            .push_bind(year)
            .push(" AND product IN (SELECT product FROM trade_records WHERE valid_to IS NULL AND importer = ")
            .push_bind(importer.to_owned())
            .push(" AND year = ")
            .push_bind(year)
            .push(" AND exporter = ")
            .push_bind(supplier.to_owned())
            .push(")");
        add_products(&mut qb, products);
        let rows: Vec<(String, String, i64)> = qb.build_query_as().fetch_all(&self.pool).await.map_err(db_error)?;
        Ok(crate::domain::trade::dominated(rows, supplier, min_share))
    }

    /// The product after which a page of an in-memory list starts (`None` on the first page).
    pub fn product_cursor(&self, fingerprint: &str, page_token: &str) -> Result<Option<String>, Error> {
        match self.tokens.decode(fingerprint, page_token)? {
            None => Ok(None),
            Some(Cursor { keys }) => match keys.as_slice() {
                [SortValue::Text(p)] => Ok(Some(p.clone())),
                _ => Err(Error::invalid(
                    "page_token",
                    "is not a page token issued for this request",
                )),
            },
        }
    }

    /// The token of the page after `product`.
    pub fn product_token(&self, fingerprint: &str, product: &str) -> String {
        self.tokens.encode(
            fingerprint,
            Cursor {
                keys: vec![SortValue::Text(product.to_owned())],
            },
        )
    }
}
