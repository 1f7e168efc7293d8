//! `import` and `export` (see [`crate::transfer`] for the semantics).

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::Ctx;
use crate::{
    error::{CliError, CliResult},
    kind::{Agreements, Goals, Partners, ProductSets, Risks},
    output::{Format, emit, kv_table, render},
    transfer::{self, CheckIns, Flows, ImportOptions, Resource},
};

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Data files, or directories searched for *.yaml, *.yml and *.json.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Validate everything on the server (validate_only) and report what would change;
    /// write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Directory to write (created if missing; `product_sets.yaml`, `partners.yaml`,
    /// `agreements.yaml`, `trade_flows.yaml`, `goals.yaml`, `risks.yaml` and `check_ins.yaml`
    /// in it are overwritten). Measurements and trade records are history, not exported;
    /// check-ins are, with their ids.
    pub dir: PathBuf,
}

pub async fn import(ctx: &Ctx, a: ImportArgs) -> CliResult {
    let files = transfer::read_files(&a.paths)?;
    let opts = ImportOptions {
        dry_run: a.dry_run,
        quiet: ctx.quiet,
    };
    let report = transfer::import_all(&ctx.client, files, opts).await?;
    let total = report.total;
    let line = if a.dry_run {
        format!("dry run: would be {total} (nothing written)")
    } else {
        total.to_string()
    };
    match ctx.format {
        Format::Table => println!("{line}"),
        f => print!("{}", render(f, &report)?),
    }
    Ok(())
}

#[derive(Debug, Serialize)]
struct ExportReport {
    dir: String,
    product_sets: usize,
    partners: usize,
    agreements: usize,
    trade_flows: usize,
    goals: usize,
    risks: usize,
    check_ins: usize,
}

pub async fn export(ctx: &Ctx, a: ExportArgs) -> CliResult {
    std::fs::create_dir_all(&a.dir).map_err(|e| CliError::other(format!("{}: {e}", a.dir.display())))?;
    let product_sets = transfer::export::<ProductSets>(&ctx.client, &a.dir).await?;
    let partners = transfer::export::<Partners>(&ctx.client, &a.dir).await?;
    let agreements = transfer::export::<Agreements>(&ctx.client, &a.dir).await?;
    let trade_flows = transfer::export::<Flows>(&ctx.client, &a.dir).await?;
    let goals = transfer::export::<Goals>(&ctx.client, &a.dir).await?;
    let risks = transfer::export::<Risks>(&ctx.client, &a.dir).await?;
    let check_ins = transfer::export::<CheckIns>(&ctx.client, &a.dir).await?;
    let report = ExportReport {
        dir: a.dir.display().to_string(),
        product_sets,
        partners,
        agreements,
        trade_flows,
        goals,
        risks,
        check_ins,
    };
    let row = |section: &str, n: usize| format!("{n} written to {section}.yaml");
    emit(ctx.format, &report, || {
        kv_table(&[
            ("directory", report.dir.clone()),
            (ProductSets::SECTION, row(ProductSets::SECTION, product_sets)),
            (Partners::SECTION, row(Partners::SECTION, partners)),
            (Agreements::SECTION, row(Agreements::SECTION, agreements)),
            (Flows::SECTION, row(Flows::SECTION, trade_flows)),
            (Goals::SECTION, row(Goals::SECTION, goals)),
            (Risks::SECTION, row(Risks::SECTION, risks)),
            (CheckIns::SECTION, row(CheckIns::SECTION, check_ins)),
        ])
    })
}
