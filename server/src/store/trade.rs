//! Product-level trade records in PostgreSQL: the bulk load (COPY into a staging table, then
//! a merge that keeps earlier versions), the reads of the import-dependency analysis, and the
//! sums it reads (per product-year, per importer and product-year) kept current by every load.

use std::collections::BTreeMap;

use sqlx::{Postgres, QueryBuilder, Transaction};
use time::OffsetDateTime;
use tokio::sync::mpsc;

use super::{Store, db_error, lock, page::Key};
use crate::domain::{
    Error,
    dependency::{Imports, World, YearData},
    list::{Cursor, KeyType, SortValue},
    trade::{Dominated, LoadCounts, StoredRecord, TradeRecord, flow_range},
};

/// Serialises loads: two loads of the same flows must not both add a revision.
const TRADE_LOAD_LOCK: i64 = 0x7265_6769_0010;

/// A load in progress: one transaction, a staging table, COPY of each chunk.
#[derive(Debug)]
pub struct TradeLoad {
    tx: Transaction<'static, Postgres>,
    received: i64,
    /// The smallest and the largest flow staged (a file sorted as BACI's and Comtrade's are,
    /// by year and exporter, stages one narrow range of the primary key).
    flows: Option<(i64, i64)>,
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

/// The records in COPY text format, each with its flow (last column), widening `flows` (the
/// smallest and the largest flow) to cover them.
fn copy_rows(records: &[TradeRecord], flows: &mut Option<(i64, i64)>) -> Vec<u8> {
    use std::io::Write;
    let mut buf = Vec::with_capacity(records.len() * 48);
    for r in records {
        let flow = r.flow();
        let (lo, hi) = flows.get_or_insert((flow, flow));
        (*lo, *hi) = ((*lo).min(flow), (*hi).max(flow));
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
        buf.extend_from_slice(if r.estimated { b"\tt\t" } else { b"\tf\t" });
        let _ = writeln!(buf, "{flow}");
    }
    buf
}

/// Finds the staged flows that are new or whose figures changed (one join with the current
/// records of the staged range of flows, `$1` to `$2`, kept in memory), inserts their
/// versions (in the order of the primary key, so that its B-tree is written page after page)
/// with the revision each replaces plus one, notes the replaced revisions in `trade_diff` for
/// [`CLOSE`] (only those: a first load writes its rows once, straight from the staged rows),
/// notes the product-years touched, each with whether it had records before this load (world
/// statistics: every product-year with records has them), and counts new flows, revised flows
/// and product-years. The new versions are invisible to the join (one snapshot for the whole
/// statement), so the current versions it compares with are those before the load.
const MERGE: &str = "WITH d AS MATERIALIZED (
    SELECT s.*, t.revision AS replaces
    FROM trade_staging s
    LEFT JOIN trade_records t ON t.flow = s.flow AND t.valid_to IS NULL AND t.flow BETWEEN $1 AND $2
    WHERE t.revision IS NULL
       OR (t.value_usd, t.quantity_kg, t.hs_edition, t.source, t.estimated)
          IS DISTINCT FROM (s.value_usd, s.quantity_kg, s.hs_edition, s.source, s.estimated)
), ins AS (
    INSERT INTO trade_records (flow, year, exporter, importer, product, revision, hs_edition, value_usd, quantity_kg,
                               source, estimated, valid_from)
    SELECT flow, year, exporter, importer, product, coalesce(replaces, 0) + 1, hs_edition, value_usd, quantity_kg,
           source, estimated, now()
    FROM d ORDER BY flow
), revised AS (
    INSERT INTO trade_diff SELECT * FROM d WHERE replaces IS NOT NULL
), touched AS (
    INSERT INTO trade_touched
    SELECT y.year, y.product,
           EXISTS (SELECT 1 FROM trade_product_stats p WHERE p.year = y.year AND p.product = y.product)
    FROM (SELECT DISTINCT year, product FROM d) y
    RETURNING 1
)
SELECT count(*) FILTER (WHERE replaces IS NULL), count(*) FILTER (WHERE replaces IS NOT NULL),
       (SELECT count(*) FROM touched)
FROM d";

/// Closes the replaced versions of the revised flows (noted by [`MERGE`]).
const CLOSE: &str = "UPDATE trade_records t SET valid_to = now()
FROM trade_diff d
WHERE t.flow = d.flow AND t.revision = d.replaces";

/// The sums of an importer's imports of a product-year over its suppliers, from rows of
/// `exporter`, `value_usd` grouped by (country, year, product): total, HHI, the largest
/// supplier as the maximum of [value, −code] (the code's two bytes as a number: ties go to the
/// first code; an aggregate that needs no sort of each group's rows), its value, how many.
macro_rules! import_sums {
    () => {
        "least(sum(value_usd), 9223372036854775807)::bigint AS import_value_usd,
           CASE WHEN sum(value_usd) > 0
                THEN sum(value_usd::float8 * value_usd::float8) / sum(value_usd::float8) ^ 2 ELSE 0 END AS import_hhi,
           max(ARRAY[value_usd, -(ascii(exporter) * 256 + ascii(substr(exporter, 2)))])
               FILTER (WHERE value_usd > 0) AS top,
           max(value_usd) AS top_value_usd,
           count(*) FILTER (WHERE value_usd > 0)::int AS supplier_count"
    };
}

/// The sums of the staged rows, by importer and by exporter of each product-year, computed
/// before the load waits for its turn to merge (so while another load merges). For a
/// product-year new in this load every current record is a staged row, and these are its sums.
/// Both are analysed (temporary tables never are on their own): with the planner guessing
/// their size, the merge sorted them to join them instead of hashing.
const SLICE_SUMS: [&str; 4] = [
    concat!(
        "CREATE TEMP TABLE trade_slice_imp ON COMMIT DROP AS
         SELECT importer AS country, year, product, ",
        import_sums!(),
        " FROM trade_staging GROUP BY 1, 2, 3"
    ),
    "CREATE TEMP TABLE trade_slice_exp ON COMMIT DROP AS
     SELECT exporter AS country, year, product, sum(value_usd) AS value_usd FROM trade_staging GROUP BY 1, 2, 3",
    "ANALYZE trade_slice_imp",
    "ANALYZE trade_slice_exp",
];

/// Recomputes the world statistics of the touched product-years and the statistics of every
/// country importing them (the same sums as the migration that created
/// `trade_country_stats`). Records are never removed, so every row of a touched product-year
/// is rewritten. Product-years that had records before this load are summed from the stored
/// current records; those new in it take the sums of the staged rows ([`SLICE_SUMS`]).
const RECOMPUTE_STATS: &str = concat!(
    "WITH cur AS MATERIALIZED (
    SELECT t.year, t.product, t.exporter, t.importer, t.value_usd
    FROM trade_records t JOIN trade_touched a ON a.year = t.year AND a.product = t.product AND a.known
    WHERE t.valid_to IS NULL
), imp AS MATERIALIZED (
    SELECT importer AS country, year, product, ",
    import_sums!(),
    " FROM cur GROUP BY 1, 2, 3
    UNION ALL
    SELECT s.* FROM trade_slice_imp s JOIN trade_touched a ON a.year = s.year AND a.product = s.product AND NOT a.known
), exp AS MATERIALIZED (
    SELECT exporter AS country, year, product, sum(value_usd) AS value_usd
    FROM cur GROUP BY 1, 2, 3
    UNION ALL
    SELECT s.* FROM trade_slice_exp s JOIN trade_touched a ON a.year = s.year AND a.product = s.product AND NOT a.known
), world AS (
    INSERT INTO trade_product_stats (year, product, world_export_hhi, importer_count, exporter_count, world_value_usd)
    SELECT e.year, e.product,
           -- HHI = sum over exporters of (V_e / total)^2.
           CASE WHEN sum(e.value_usd) > 0 THEN sum(e.value_usd::float8 ^ 2) / sum(e.value_usd)::float8 ^ 2 ELSE 0 END,
           n.importers, count(*), sum(e.value_usd)
    FROM exp e JOIN (SELECT year, product, count(*) AS importers FROM imp GROUP BY 1, 2) n
        ON n.year = e.year AND n.product = e.product
    GROUP BY e.year, e.product, n.importers
    ON CONFLICT (year, product) DO UPDATE SET world_export_hhi = excluded.world_export_hhi,
        importer_count = excluded.importer_count, exporter_count = excluded.exporter_count,
        world_value_usd = excluded.world_value_usd
)
INSERT INTO trade_country_stats
SELECT i.country, i.year, i.product, i.import_value_usd, i.import_hhi,
       chr((-i.top[2] / 256)::int) || chr((-i.top[2] % 256)::int), i.top_value_usd,
       i.supplier_count, least(coalesce(e.value_usd, 0), 9223372036854775807)::bigint
FROM imp i LEFT JOIN exp e ON e.country = i.country AND e.year = i.year AND e.product = i.product
ON CONFLICT (country, year, product) DO UPDATE SET import_value_usd = excluded.import_value_usd,
    import_hhi = excluded.import_hhi, top_supplier = excluded.top_supplier, top_value_usd = excluded.top_value_usd,
    supplier_count = excluded.supplier_count, export_value_usd = excluded.export_value_usd"
);

impl TradeLoad {
    /// Stages the chunks of records sent on `chunks` until it closes, in one COPY: PostgreSQL
    /// stores a chunk while the caller receives and checks the next one. The caller gives
    /// each flow at most once per load ([`TradeRecord::flow`]).
    pub async fn stage(&mut self, mut chunks: mpsc::Receiver<Vec<TradeRecord>>) -> Result<(), Error> {
        let mut copy = self
            .tx
            .copy_in_raw("COPY trade_staging FROM STDIN (FORMAT text)")
            .await
            .map_err(db_error)?;
        while let Some(records) = chunks.recv().await {
            if let Err(e) = copy.send(copy_rows(&records, &mut self.flows)).await {
                let _ = copy.abort("the load failed").await;
                return Err(db_error(e));
            }
            self.received += records.len() as i64;
        }
        copy.finish().await.map_err(db_error)?;
        Ok(())
    }

    async fn execute(&mut self, sql: &'static str) -> Result<(), Error> {
        sqlx::query(sql).execute(&mut *self.tx).await.map_err(db_error)?;
        Ok(())
    }

    /// Merges the staged records and commits (or rolls back for `validate_only`).
    pub async fn finish(mut self, validate_only: bool) -> Result<LoadCounts, Error> {
        // The joins and aggregates of a slice (up to 250,000 rows) fit in memory with this.
        self.execute("SET LOCAL work_mem = '64MB'").await?;
        // The statistics join sums of a few hundred thousand rows on text keys: hashing them
        // beats the merge join the planner picks, which sorts both sides (0.3 s a slice).
        self.execute("SET LOCAL enable_mergejoin = off").await?;
        // The merge's estimated costs pass PostgreSQL's JIT thresholds, and compiling them with
        // inlining and optimisation took 0.8-1.2 s a slice, longer than running them.
        self.execute("SET LOCAL jit = off").await?;
        // Temporary tables are never analysed on their own: without this the planner guesses
        // the staged rows' count and may sort every stored record to join them.
        self.execute("ANALYZE trade_staging").await?;
        for sql in SLICE_SUMS {
            self.execute(sql).await?;
        }
        lock(&mut self.tx, TRADE_LOAD_LOCK, false).await?;
        let (first, last) = self.flows.unwrap_or((0, -1));
        let (inserted, revised, product_years): (i64, i64, i64) = sqlx::query_as(MERGE)
            .bind(first)
            .bind(last)
            .fetch_one(&mut *self.tx)
            .await
            .map_err(db_error)?;
        if revised > 0 {
            // Analysed, so that closing a few changed versions looks them up by key instead
            // of scanning every record (temporary tables are never analysed on their own).
            self.execute("ANALYZE trade_diff").await?;
            self.execute(CLOSE).await?;
        }
        if inserted + revised > 0 {
            self.execute("ANALYZE trade_touched").await?;
            self.execute(RECOMPUTE_STATS).await?;
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

/// A product-year of the dependency analysis: the world statistics and the importer's sums
/// (NULL when it did not import the product that year).
#[derive(sqlx::FromRow)]
struct DependencyRow {
    year: i32,
    product: String,
    world_export_hhi: f64,
    importer_count: i32,
    import_value_usd: Option<i64>,
    import_hhi: Option<f64>,
    top_supplier: Option<String>,
    top_value_usd: Option<i64>,
    supplier_count: Option<i32>,
    export_value_usd: Option<i64>,
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

/// The products `importer` bought in `year` whose top supplier is `supplier` with at least
/// `min_share` of its imports (of `products`, or of all).
#[derive(Debug, Clone, Copy)]
pub struct Dominance<'a> {
    pub importer: &'a str,
    pub supplier: &'a str,
    pub year: i32,
    pub min_share: f64,
    pub products: Option<&'a [String]>,
}

impl Store {
    /// Starts a load: a transaction with empty staging tables.
    pub async fn begin_trade_load(&self) -> Result<TradeLoad, Error> {
        let mut tx = self.begin().await?;
        for sql in [
            "CREATE TEMP TABLE trade_staging (year int NOT NULL, exporter text COLLATE \"C\" NOT NULL,
                importer text COLLATE \"C\" NOT NULL, product text COLLATE \"C\" NOT NULL,
                hs_edition text NOT NULL, value_usd bigint NOT NULL, quantity_kg bigint, source text NOT NULL,
                estimated boolean NOT NULL, flow bigint NOT NULL) ON COMMIT DROP",
            "CREATE TEMP TABLE trade_diff (LIKE trade_staging, replaces int) ON COMMIT DROP",
            "CREATE TEMP TABLE trade_touched (year int NOT NULL, product text COLLATE \"C\" NOT NULL, known boolean NOT NULL)
                ON COMMIT DROP",
        ] {
            sqlx::query(sql).execute(&mut *tx).await.map_err(db_error)?;
        }
        Ok(TradeLoad {
            tx,
            received: 0,
            flows: None,
        })
    }

    /// Lists the records of a year (current, or as stored at `read_time`), by exporter,
    /// importer and product.
    pub async fn list_trade_records(&self, q: &RecordQuery) -> Result<RecordPage, Error> {
        // The flow number orders as (year, exporter, importer, product): a year, or a year and
        // exporter, is one range of the primary key, walked in its order.
        const KEYS: [Key; 1] = [Key::asc("flow", KeyType::Int)];
        let pager = self.pager(&q.fingerprint, &q.page_token, KEYS.to_vec(), q.page_size)?;
        let (first, last) = flow_range(q.year, q.exporter.as_deref());
        let mut qb = QueryBuilder::<Postgres>::new("SELECT * FROM trade_records WHERE flow BETWEEN ");
        qb.push_bind(first)
            .push(" AND ")
            .push_bind(last)
            .push(" AND year = ")
            .push_bind(q.year);
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
        let rows: Vec<RecordRow> = pager.fetch(qb).await?;
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
        let (records, next_page_token) = pager.finish(records, |r| vec![SortValue::Int(r.record.flow())]);
        Ok(RecordPage {
            records,
            next_page_token,
        })
    }

    /// The figures the dependency analysis of `importer` reads for `years`, by product and
    /// year: its imports summed over suppliers, its exports, the world statistics (all kept
    /// current by the loads). Only products it imported in the last of `years` are returned.
    pub async fn dependency_data(
        &self,
        importer: &str,
        years: std::ops::RangeInclusive<i32>,
        products: Option<&[String]>,
    ) -> Result<BTreeMap<String, BTreeMap<i32, YearData>>, Error> {
        // One query from the products imported in the last year: each product-year of the
        // world statistics (a product-year with any flow has them) and the importer's sums, all
        // looked up by key. No list of thousands of products goes back as a parameter (in a
        // prepared statement's generic plan, `= ANY($n)` over it is a linear search per row).
        let mut qb = QueryBuilder::<Postgres>::new(
            "SELECT w.year, w.product, w.world_export_hhi, w.importer_count, c.import_value_usd, c.import_hhi,
                    c.top_supplier, c.top_value_usd, c.supplier_count, c.export_value_usd
             FROM (SELECT product FROM trade_country_stats WHERE import_value_usd > 0 AND country = ",
        );
        qb.push_bind(importer.to_owned())
            .push(" AND year = ")
            .push_bind(*years.end());
        add_products(&mut qb, products);
        qb.push(") p CROSS JOIN generate_series(")
            .push_bind(*years.start())
            .push("::int, ")
            .push_bind(*years.end())
            .push(
                "::int) AS y(year)
                 JOIN trade_product_stats w ON w.year = y.year AND w.product = p.product
                 LEFT JOIN trade_country_stats c ON c.year = w.year AND c.product = w.product AND c.country = ",
            )
            .push_bind(importer.to_owned());
        let rows: Vec<DependencyRow> = qb.build_query_as().fetch_all(&self.pool).await.map_err(db_error)?;
        let mut out: BTreeMap<String, BTreeMap<i32, YearData>> = BTreeMap::new();
        for r in rows {
            out.entry(r.product).or_default().insert(
                r.year,
                YearData {
                    imports: Imports {
                        value_usd: r.import_value_usd.unwrap_or(0),
                        sum_squares: r.import_hhi.unwrap_or(0.0) * (r.import_value_usd.unwrap_or(0) as f64).powi(2),
                        top: r.top_supplier.zip(r.top_value_usd),
                        supplier_count: r.supplier_count.unwrap_or(0),
                    },
                    exports_usd: r.export_value_usd.unwrap_or(0),
                    world: Some(World {
                        export_hhi: r.world_export_hhi,
                        importer_count: r.importer_count,
                    }),
                },
            );
        }
        Ok(out)
    }

    /// The products a [`Dominance`] query finds, by product.
    pub async fn dominated_products(&self, q: &Dominance<'_>) -> Result<Vec<Dominated>, Error> {
        let Dominance {
            importer,
            supplier,
            year,
            min_share,
            products,
        } = *q;
        let mut qb = QueryBuilder::<Postgres>::new(
            "SELECT product, top_value_usd, import_value_usd, supplier_count FROM trade_country_stats
             WHERE import_value_usd > 0 AND country = ",
        );
        qb.push_bind(importer.to_owned())
            .push(" AND year = ")
            .push_bind(year)
            .push(" AND top_supplier = ")
            .push_bind(supplier.to_owned());
        add_products(&mut qb, products);
        qb.push(" ORDER BY product");
        let rows: Vec<(String, i64, i64, i32)> = qb.build_query_as().fetch_all(&self.pool).await.map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(|(product, top, total, supplier_count)| Dominated {
                share: top as f64 / total as f64,
                supplier_value_usd: top,
                import_value_usd: total,
                supplier_count,
                supplier: supplier.to_owned(),
                product,
            })
            .filter(|d| d.share >= min_share)
            .collect())
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
