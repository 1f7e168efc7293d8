//! The product-level trade scenarios: `trade-load` (bulk load of generated trade records
//! through ImportTradeRecords, against a raw PostgreSQL COPY of the same rows measured in
//! the same run, `db-copy`) and `dependencies` (ListImportDependencies of one importer-year
//! over the loaded rows).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use registry_client::{SLICE_ROWS, pb};

use crate::{
    Scenario,
    hist::{LatencySummary, new_histogram, record},
    report::ScenarioResult,
    runner::Op,
    scenarios::Ctx,
};

/// Countries of the generated data (ISO alpha-2); the first ten import every product.
const COUNTRIES: &[&str] = &[
    "KR", "CN", "US", "JP", "DE", "FR", "TW", "IN", "CH", "VN", "AU", "BR", "CL", "CD", "ID", "MY", "TH", "SG", "GB",
    "IT", "ES", "NL", "BE", "SE", "PL", "MX", "CA", "ZA", "SA", "AE", "TR", "RU", "PH", "PE", "AR", "NO", "FI", "AT",
    "DK", "NZ",
];
const IMPORTERS: usize = 10;
const EXPORTERS_PER_IMPORTER: usize = 7;
const YEARS: [i32; 3] = [2021, 2022, 2023];

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// About `rows` records: 3 years x `products` x 10 importers x 7 exporters each.
pub fn generate(rows: usize) -> (Vec<pb::TradeRecord>, usize) {
    let per_product = YEARS.len() * IMPORTERS * EXPORTERS_PER_IMPORTER;
    let products = rows.div_ceil(per_product).max(1);
    let mut out = Vec::with_capacity(products * per_product);
    for p in 0..products {
        let product = format!("{:06}", 10_000 + p * 7);
        for year in YEARS {
            for (i, importer) in COUNTRIES.iter().enumerate().take(IMPORTERS) {
                let mut picked = 0;
                let mut k = 0u64;
                while picked < EXPORTERS_PER_IMPORTER {
                    let h = mix((p as u64) << 32 ^ (i as u64) << 16 ^ k ^ year as u64);
                    k += 1;
                    let e = (h % COUNTRIES.len() as u64) as usize;
                    if e == i
                        || out[out.len() - picked..]
                            .iter()
                            .any(|r: &pb::TradeRecord| r.exporter == COUNTRIES[e])
                    {
                        continue;
                    }
                    picked += 1;
                    // One dominant supplier in one product in three.
                    let scale = if picked == 1 && p % 3 == 0 { 50 } else { 1 };
                    out.push(pb::TradeRecord {
                        year,
                        exporter: COUNTRIES[e].into(),
                        importer: (*importer).into(),
                        product: product.clone(),
                        hs_edition: "HS22".into(),
                        value_usd: ((h >> 20) % 1_000_000 + 1000) as i64 * scale,
                        quantity_kg: (!h.is_multiple_of(5)).then_some(((h >> 8) % 100_000) as i64),
                        source: "bench".into(),
                        estimated: false,
                        ..Default::default()
                    });
                }
            }
        }
    }
    (out, products)
}

/// The order of the rows of the generated file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum Order {
    /// Each product's flows of every year together.
    Product,
    /// By year, exporter, importer and product (BACI's order).
    Baci,
}

/// What the trade-load scenario measured.
#[derive(Debug)]
pub struct LoadRun {
    pub order: Order,
    pub rows: usize,
    pub products: usize,
    pub load: Duration,
    pub reload: Duration,
    pub copy: Duration,
    pub error: Option<String>,
}

/// Loads `rows` generated records (one stream, one transaction), loads them again
/// (unchanged), and COPYs the same rows into a scratch table as the baseline.
pub async fn load(ctx: &Ctx, rows: usize, order: Order) -> anyhow::Result<LoadRun> {
    let (mut records, products) = generate(rows);
    if order == Order::Baci {
        records.sort_unstable_by(|a, b| {
            (a.year, &a.exporter, &a.importer, &a.product).cmp(&(b.year, &b.exporter, &b.importer, &b.product))
        });
    }
    let n = records.len();
    let client = &ctx.clients[0];
    let started = Instant::now();
    let first = client
        .import_trade_file("bench", records.clone(), SLICE_ROWS, false, |_| {})
        .await;
    let load = started.elapsed();
    let started = Instant::now();
    let second = client
        .import_trade_file("bench", records.clone(), SLICE_ROWS, false, |_| {})
        .await;
    let reload = started.elapsed();
    let copy = raw_copy(ctx, &records).await?;
    let total = |r: &[pb::ImportTradeRecordsResponse], f: fn(&pb::ImportTradeRecordsResponse) -> i64| {
        r.iter().map(f).sum::<i64>()
    };
    let error = match (first, second) {
        (Ok(a), Ok(b)) if total(&a, |r| r.inserted) == n as i64 && total(&b, |r| r.unchanged) == n as i64 => None,
        (Ok(a), Ok(b)) => Some(format!("first load {a:?}; second load {b:?}")),
        (Err((_, e)), _) | (_, Err((_, e))) => Some(e.to_string()),
    };
    Ok(LoadRun {
        order,
        rows: n,
        products,
        load,
        reload,
        copy,
        error,
    })
}

/// The baseline: the same rows COPYed (text format) into a table with the same primary
/// key, in one transaction, from this process.
async fn raw_copy(ctx: &Ctx, records: &[pb::TradeRecord]) -> anyhow::Result<Duration> {
    use std::fmt::Write;
    let mut text = String::with_capacity(records.len() * 48);
    for r in records {
        let q = r.quantity_kg.map_or_else(|| "\\N".to_owned(), |q| q.to_string());
        let _ = writeln!(
            text,
            "{}\t{}\t{}\t{}\t{}\t{}\t{q}\t{}",
            r.year, r.exporter, r.importer, r.product, r.hs_edition, r.value_usd, r.source
        );
    }
    let mut conn = ctx.pool.acquire().await?;
    sqlx::query(
        "CREATE TEMP TABLE bench_copy (year int, exporter text, importer text, product text, hs_edition text,
            value_usd bigint, quantity_kg bigint, source text, PRIMARY KEY (year, exporter, importer, product))",
    )
    .execute(&mut *conn)
    .await?;
    let started = Instant::now();
    let mut copy = conn.copy_in_raw("COPY bench_copy FROM STDIN (FORMAT text)").await?;
    copy.send(text.into_bytes()).await?;
    copy.finish().await?;
    let elapsed = started.elapsed();
    sqlx::query("DROP TABLE bench_copy").execute(&mut *conn).await?;
    Ok(elapsed)
}

fn per_second(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

pub(crate) fn whole(name: &str, unit: &str, throughput: f64, requests: u64, times: &[Duration]) -> ScenarioResult {
    let mut hist = new_histogram();
    for d in times {
        record(&mut hist, *d);
    }
    ScenarioResult {
        name: name.to_owned(),
        unit: unit.into(),
        throughput,
        baseline: String::new(),
        ratio: 0.0,
        requests,
        errors: 0,
        error_sample: None,
        latency: LatencySummary::of(&hist),
        latency_mode: String::new(),
        open_loop_rate: None,
        open_loop_achieved_rate: None,
        closed_loop_latency: None,
        unloaded_latency: None,
        cpu: None,
        notes: Vec::new(),
    }
}

/// `db-copy` (the baseline) and `trade-load`.
pub fn load_results(run: &LoadRun) -> [ScenarioResult; 2] {
    let mut copy = whole(
        "db-copy",
        "rows/s",
        per_second(run.rows, run.copy),
        run.rows as u64,
        &[run.copy],
    );
    copy.latency_mode = "one COPY".into();
    copy.notes.push(format!(
        "{} rows COPYed (text) into a temporary table with the same primary key, one transaction",
        run.rows
    ));
    let mut load = whole(
        Scenario::TradeLoad.name(),
        "rows/s",
        if run.error.is_some() {
            0.0
        } else {
            per_second(run.rows, run.load)
        },
        run.rows as u64,
        &[run.load, run.reload],
    );
    load.errors = u64::from(run.error.is_some());
    load.error_sample.clone_from(&run.error);
    load.latency_mode = "whole load: first run, unchanged rerun".into();
    load.notes.push(format!(
        "{} rows ({} products x 3 years x 10 importers x 7 exporters, in {} order), ImportTradeRecords streams of up to \
         250,000 rows (one transaction each), as registryctl trade import sends them: first load {:.2} s (all new), rerun {:.2} s (all unchanged)",
        run.rows,
        match run.order {
            Order::Product => "product",
            Order::Baci => "BACI (year, exporter, importer, product)",
        },
        run.products,
        run.load.as_secs_f64(),
        run.reload.as_secs_f64()
    ));
    [copy, load]
}

/// ListImportDependencies of KR in 2023, first page of 1000 (the analysis reads every
/// product of the importer-year).
pub fn dependencies_op(ctx: &Ctx) -> Op {
    let ctx = ctx.clone();
    Arc::new(move |w| {
        let c = ctx.client(w);
        Box::pin(async move {
            let page = c
                .list_import_dependencies_page(pb::ListImportDependenciesRequest {
                    importer: "KR".into(),
                    year: 2023,
                    page_size: 1000,
                    ..Default::default()
                })
                .await
                .map_err(|e| e.to_string())?;
            if page.dependencies.is_empty() {
                Err("no dependencies: was trade-load run?".into())
            } else {
                Ok(())
            }
        })
    })
}
