//! `import` and `export` (see [`crate::transfer`] for the semantics).

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::Ctx;
use crate::{
    error::{CliError, CliResult},
    output::{Format, emit, kv_table, render},
    transfer::{self, Goals, ImportOptions, Resource, Summary},
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
    /// Directory to write (created if missing; `goals.yaml` in it is overwritten).
    pub dir: PathBuf,
}

#[derive(Debug, Serialize)]
struct ImportReport {
    dry_run: bool,
    goals: Summary,
    total: Summary,
}

pub async fn import(ctx: &Ctx, a: ImportArgs) -> CliResult {
    let mut files = Vec::new();
    for p in &a.paths {
        for f in transfer::data_files(p)? {
            let (text, data) = transfer::parse_file(&f)?;
            files.push((f, text, data));
        }
    }
    let opts = ImportOptions {
        dry_run: a.dry_run,
        quiet: ctx.quiet,
    };
    // Kinds in dependency order; partners and trade flows will come before goals.
    let goals = transfer::collect::<Goals>(&mut files);
    let goals = transfer::import::<Goals>(&ctx.client, goals, opts).await?;
    let total = goals;
    let report = ImportReport {
        dry_run: a.dry_run,
        goals,
        total,
    };
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
    goals: usize,
}

pub async fn export(ctx: &Ctx, a: ExportArgs) -> CliResult {
    std::fs::create_dir_all(&a.dir).map_err(|e| CliError::other(format!("{}: {e}", a.dir.display())))?;
    let goals = transfer::export::<Goals>(&ctx.client, &a.dir).await?;
    let report = ExportReport {
        dir: a.dir.display().to_string(),
        goals,
    };
    emit(ctx.format, &report, || {
        kv_table(&[
            ("directory", report.dir.clone()),
            (Goals::SECTION, format!("{goals} written to {}.yaml", Goals::SECTION)),
        ])
    })
}
