//! `registryctl trade import`, `registryctl dependencies` and
//! `registryctl dominated`: product-level trade and the import-dependency analysis.

use std::{io::IsTerminal, path::PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use registry_client::{
    SLICE_ROWS, pb,
    trade_files::{self, FileReport, Format},
};
use serde::Serialize;

use super::{Ctx, resource};
use crate::{
    error::{CliError, CliResult},
    output::{self, Columns, join},
};

#[derive(Debug, Subcommand)]
pub enum TradeCmd {
    /// Loads BACI or UN Comtrade CSV files of product-level trade. Every file is read first;
    /// any bad line (reported as FILE:LINE) stops the load before anything is stored. Each
    /// file is then stored in slices of up to 250,000 records, one transaction each. Loading
    /// a file again changes nothing; changed figures become new revisions.
    Import(ImportArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FileFormat {
    /// CEPII BACI: t,i,j,k,v,q.
    Baci,
    /// UN Comtrade CSV (refYear, reporterISO, partnerISO, flowCode, cmdCode, primaryValue,
    /// netWgt, isReported).
    Comtrade,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The file format.
    #[arg(long, value_enum)]
    pub format: FileFormat,
    /// Check the files and the records only; store nothing.
    #[arg(long)]
    pub validate_only: bool,
    /// The files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

pub async fn trade(ctx: &Ctx, cmd: TradeCmd) -> CliResult {
    match cmd {
        TradeCmd::Import(a) => import(ctx, a).await,
    }
}

/// What `trade import` reports per file.
#[derive(Debug, Serialize)]
struct ImportSummary {
    file: String,
    lines: u64,
    records: u64,
    skipped_world: u64,
    skipped_aggregates: u64,
    skipped_other: u64,
    mirror_duplicates: u64,
    inserted: i64,
    revised: i64,
    unchanged: i64,
}

fn progress(quiet: bool, len: u64, file: &str) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} records {per_sec} {msg}") {
        bar.set_style(style);
    }
    bar.set_message(file.to_owned());
    bar
}

async fn import(ctx: &Ctx, a: ImportArgs) -> CliResult {
    let format = match a.format {
        FileFormat::Baci => Format::Baci,
        FileFormat::Comtrade => Format::Comtrade,
    };
    // Read every file first: a bad line anywhere stores nothing.
    let mut parsed = Vec::with_capacity(a.files.len());
    let mut bad = Vec::new();
    for path in &a.files {
        let name = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|e| CliError::other(format!("cannot read {name}: {e}")))?;
        let p = trade_files::read(format, &name, std::io::BufReader::new(file));
        bad.extend(p.report.bad_lines.iter().map(ToString::to_string));
        parsed.push((name, p));
    }
    if !bad.is_empty() {
        return Err(CliError::Other {
            message: format!("{} bad line(s); nothing was loaded", bad.len()),
            details: bad,
        });
    }
    let mut summaries = Vec::new();
    for (name, p) in parsed {
        let report: FileReport = p.report;
        let bar = progress(ctx.quiet, report.records, &name);
        let tick = bar.clone();
        let answers = match ctx
            .client
            .import_trade_file(&name, p.records, SLICE_ROWS, a.validate_only, move |n| tick.inc(n))
            .await
        {
            Ok(answers) => answers,
            Err((stored, error)) => {
                bar.finish_and_clear();
                let stored: i64 = stored.iter().map(|r| r.received).sum();
                return Err(CliError::Api {
                    context: format!(
                        "loading {name}: the slice that failed stored nothing; {stored} record(s) of other \
                         slices are stored (loading the file again completes it)"
                    ),
                    error,
                });
            }
        };
        let sum = |f: fn(&pb::ImportTradeRecordsResponse) -> i64| answers.iter().map(f).sum::<i64>();
        bar.finish_and_clear();
        summaries.push(ImportSummary {
            file: name,
            lines: report.lines,
            records: report.records,
            skipped_world: report.skipped_world,
            skipped_aggregates: report.skipped_aggregates,
            skipped_other: report.skipped_other,
            mirror_duplicates: report.mirror_duplicates,
            inserted: sum(|r| r.inserted),
            revised: sum(|r| r.revised),
            unchanged: sum(|r| r.unchanged),
        });
    }
    if a.validate_only {
        ctx.note("the files are valid (nothing stored)");
    }
    output::print_list(ctx.format, &summaries)
}

impl Columns for ImportSummary {
    const COLUMNS: &[&str] = &[
        "FILE",
        "LINES",
        "RECORDS",
        "WORLD",
        "AGGREGATES",
        "OTHER",
        "MIRRORS",
        "NEW",
        "REVISED",
        "UNCHANGED",
    ];

    fn row(&self) -> Vec<String> {
        let counts = [
            self.lines,
            self.records,
            self.skipped_world,
            self.skipped_aggregates,
            self.skipped_other,
            self.mirror_duplicates,
        ];
        let written = [self.inserted, self.revised, self.unchanged];
        let mut row = vec![self.file.clone()];
        row.extend(counts.iter().map(u64::to_string));
        row.extend(written.iter().map(i64::to_string));
        row
    }
}

#[derive(Debug, Args)]
pub struct DependenciesArgs {
    /// The year analysed (persistence looks at it and the two years before).
    #[arg(long)]
    pub year: i32,
    /// Only the products of this product set (id or `productSets/{id}`).
    #[arg(long = "set", value_name = "NAME")]
    pub set: Option<String>,
    /// The importer, ISO 3166-1 alpha-2 (default KR).
    #[arg(long, default_value = "KR")]
    pub importer: String,
    /// Only this product (repeat).
    #[arg(long = "product", value_name = "HS6")]
    pub products: Vec<String>,
    /// Only the dependent products.
    #[arg(long)]
    pub only_dependent: bool,
    /// Fewest importers a product-year must have in the stored data for its world export
    /// concentration to be known (server default 10).
    #[arg(long)]
    pub min_importers: Option<i32>,
    /// The analysis of the figures as stored at this time (RFC 3339): earlier revisions.
    #[arg(long)]
    pub read_time: Option<String>,
}

/// One product, as `dependencies -o json|yaml` prints it.
#[derive(Debug, Serialize)]
struct DependencyView {
    product: String,
    year: i32,
    import_hhi: f64,
    top_supplier: String,
    top_supplier_share: f64,
    supplier_count: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    world_export_hhi: Option<f64>,
    import_export_ratio: f64,
    concentrated_imports: bool,
    concentrated_world_exports: bool,
    non_substitutable: bool,
    persistent: bool,
    dependent: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    unknown: Vec<String>,
    explanation: String,
}

fn set_name(s: &str) -> String {
    if s.starts_with(crate::product_sets::PRODUCT_SETS) {
        s.to_owned()
    } else {
        format!("{}{s}", crate::product_sets::PRODUCT_SETS)
    }
}

fn yes(b: bool) -> String {
    if b { "yes" } else { "" }.to_owned()
}

pub async fn dependencies(ctx: &Ctx, a: DependenciesArgs) -> CliResult {
    let req = pb::ListImportDependenciesRequest {
        importer: a.importer.clone(),
        year: a.year,
        product_set: a.set.as_deref().map(set_name).unwrap_or_default(),
        products: a.products,
        only_dependent: a.only_dependent,
        page_size: 1000,
        min_world_importers: a.min_importers,
        read_time: resource::read_time(a.read_time.as_deref())?,
        ..Default::default()
    };
    let what = format!("listing the import dependencies of {} in {}", a.importer, a.year);
    let view = |d: pb::ImportDependency| DependencyView {
        product: d.product,
        year: d.year,
        import_hhi: d.import_hhi,
        top_supplier: d.top_supplier,
        top_supplier_share: d.top_supplier_share,
        supplier_count: d.supplier_count,
        world_export_hhi: d.world_export_hhi,
        import_export_ratio: d.import_export_ratio,
        concentrated_imports: d.concentrated_imports,
        concentrated_world_exports: d.concentrated_world_exports,
        non_substitutable: d.non_substitutable,
        persistent: d.persistent,
        dependent: d.dependent,
        unknown: d.unknown,
        explanation: d.explanation,
    };
    ctx.print_all(req, None, what, view).await
}

impl Columns for DependencyView {
    const COLUMNS: &[&str] = &[
        "PRODUCT",
        "IMPORT HHI",
        "TOP SUPPLIER",
        "SHARE",
        "WORLD HHI",
        "IMP/EXP",
        "DEPENDENT",
        "UNKNOWN",
    ];

    fn row(&self) -> Vec<String> {
        let world_hhi = self.world_export_hhi.map(|h| format!("{h:.3}"));
        let ratio = if self.import_export_ratio >= 9999.0 {
            "no exports".to_owned()
        } else {
            format!("{:.2}", self.import_export_ratio)
        };
        vec![
            self.product.clone(),
            format!("{:.3}", self.import_hhi),
            self.top_supplier.clone(),
            pct(self.top_supplier_share),
            world_hhi.unwrap_or_else(|| "unknown".to_owned()),
            ratio,
            yes(self.dependent),
            join(&self.unknown),
        ]
    }
}

/// 0.25 → `25.0%`.
fn pct(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

#[derive(Debug, Args)]
pub struct DominatedArgs {
    /// The supplier, ISO 3166-1 alpha-2 (e.g. CN).
    #[arg(long)]
    pub supplier: String,
    /// The year.
    #[arg(long)]
    pub year: i32,
    /// The importer, ISO 3166-1 alpha-2 (default KR).
    #[arg(long, default_value = "KR")]
    pub importer: String,
    /// Only the products of this product set.
    #[arg(long = "set", value_name = "NAME")]
    pub set: Option<String>,
    /// Least share of the importer's imports (server default 0.5).
    #[arg(long)]
    pub min_share: Option<f64>,
    /// The figures as stored at this time (RFC 3339): earlier revisions.
    #[arg(long)]
    pub read_time: Option<String>,
}

#[derive(Debug, Serialize)]
struct DominatedView {
    product: String,
    supplier: String,
    share: f64,
    supplier_value_usd: i64,
    import_value_usd: i64,
    supplier_count: i32,
}

pub async fn dominated(ctx: &Ctx, a: DominatedArgs) -> CliResult {
    let req = pb::ListDominatedProductsRequest {
        importer: a.importer.clone(),
        supplier: a.supplier.clone(),
        year: a.year,
        product_set: a.set.as_deref().map(set_name).unwrap_or_default(),
        min_share: a.min_share,
        page_size: 1000,
        read_time: resource::read_time(a.read_time.as_deref())?,
        ..Default::default()
    };
    let what = format!(
        "listing the products {} dominates for {} in {}",
        a.supplier, a.importer, a.year
    );
    let view = |d: pb::DominatedProduct| DominatedView {
        product: d.product,
        supplier: d.supplier,
        share: d.share,
        supplier_value_usd: d.supplier_value_usd,
        import_value_usd: d.import_value_usd,
        supplier_count: d.supplier_count,
    };
    ctx.print_all(req, None, what, view).await
}

impl Columns for DominatedView {
    const COLUMNS: &[&str] = &[
        "PRODUCT",
        "SUPPLIER",
        "SHARE",
        "FROM SUPPLIER USD",
        "ALL IMPORTS USD",
        "SUPPLIERS",
    ];

    fn row(&self) -> Vec<String> {
        let values = [self.supplier_value_usd, self.import_value_usd];
        let mut row = vec![self.product.clone(), self.supplier.clone(), pct(self.share)];
        row.extend(values.iter().map(i64::to_string));
        row.push(self.supplier_count.to_string());
        row
    }
}
