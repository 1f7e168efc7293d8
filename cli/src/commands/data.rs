//! `import` and `export` (see [`crate::transfer`] for the semantics).

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::Ctx;
use crate::{
    error::{CliError, CliResult},
    output::{Format, emit, kv_table, render},
    transfer::{self, ImportOptions, PerKind},
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
    #[serde(flatten)]
    kinds: PerKind<usize>,
}

pub async fn export(ctx: &Ctx, a: ExportArgs) -> CliResult {
    std::fs::create_dir_all(&a.dir).map_err(|e| CliError::other(format!("{}: {e}", a.dir.display())))?;
    let report = ExportReport {
        dir: a.dir.display().to_string(),
        kinds: transfer::export_all(&ctx.client, &a.dir).await?,
    };
    emit(ctx.format, &report, || {
        let mut rows = vec![("directory", report.dir.clone())];
        rows.extend(
            report
                .kinds
                .sections()
                .into_iter()
                .map(|(section, n)| (section, format!("{n} written to {section}.yaml"))),
        );
        kv_table(&rows)
    })
}
