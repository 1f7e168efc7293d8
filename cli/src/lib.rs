//! `registryctl`: the admin CLI of the Policy & Partner Registry, built on `registry-client`.
//!
//! Also a library: [`import_seeds`] is what `registryd dev` uses to load `seeds/`.

pub mod commands;
pub mod error;
pub mod flags;
pub mod kind;
pub mod output;
pub mod plain;
pub mod product_sets;
pub mod records;
pub mod report;
pub mod transfer;

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use clap_complete::Shell;
use registry_client::RegistryClient;

use crate::{error::CliError, output::Format};

/// Admin CLI of the Policy & Partner Registry (motie.registry.v1).
///
/// Exit codes: 0 ok, 1 other error (invalid data, failed precondition, I/O), 2 usage,
/// 3 not found, 4 conflict (already exists, etag mismatch), 5 authentication or permission,
/// 6 server unavailable.
#[derive(Debug, Parser)]
#[command(name = "registryctl", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options of every command.
#[derive(Debug, Args)]
pub struct Global {
    /// gRPC endpoint of registryd (https:// with --ca-cert for TLS).
    #[arg(
        long,
        global = true,
        env = "REGISTRY_ENDPOINT",
        default_value = "http://127.0.0.1:50051"
    )]
    pub endpoint: String,
    /// API token (`rgy_…`).
    #[arg(long, global = true, env = "REGISTRY_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// File holding the API token (e.g. a container secret); used when --token is not given.
    #[arg(long, global = true, env = "REGISTRY_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// CA certificate (PEM) to trust for the server's TLS certificate.
    #[arg(long, global = true, env = "REGISTRY_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
    /// Output format.
    #[arg(short = 'o', long = "output", global = true, value_enum, default_value = "table")]
    pub output: Format,
    /// No progress bars or status messages (data and errors are still printed).
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once
pub enum Command {
    /// Policy goals: list, show, create, change, delete.
    #[command(subcommand)]
    Goals(commands::goals::GoalsCmd),
    /// Trade partners and their trade flows.
    #[command(subcommand)]
    Partners(commands::partners::PartnersCmd),
    /// Product sets: named lists of HS 6-digit products (e.g. critical minerals).
    #[command(subcommand)]
    ProductSets(commands::kinds::ProductSetsCmd),
    /// Product-level trade records (BACI, UN Comtrade).
    #[command(subcommand)]
    Trade(commands::trade::TradeCmd),
    /// Import dependencies of a year by product (CEPII GeoDep method; docs/dependencies.md).
    Dependencies(commands::trade::DependenciesArgs),
    /// The products a supplier dominates for an importer (top source with at least a share).
    Dominated(commands::trade::DominatedArgs),
    /// Agreements between Korea and its partners: parties, kind, dated events, status.
    #[command(subcommand)]
    Agreements(commands::kinds::AgreementsCmd),
    /// The risk register: risks linked to the goals and partners they threaten.
    #[command(subcommand)]
    Risks(commands::kinds::RisksCmd),
    /// Export concentration of a year: shares, HHI, top-N share, group shares, dependency risks.
    Concentration(commands::partners::ConcentrationArgs),
    /// The change history of one resource (`policyGoals/x`, or a goal id).
    History(commands::feed::HistoryArgs),
    /// Follows the change feed.
    Watch(commands::feed::WatchArgs),
    /// API tokens (ADMIN).
    #[command(subcommand)]
    Tokens(commands::tokens::TokensCmd),
    /// Asks the server's health service; exit 6 when not serving.
    Health(commands::feed::HealthArgs),
    /// Prints a shell completion script.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: Shell,
    },
    /// Creates or updates everything in data files (a file, or a directory of *.yaml/*.json).
    Import(commands::data::ImportArgs),
    /// Writes every live resource to DIR, in files that `import` loads back unchanged.
    Export(commands::data::ExportArgs),
    /// Writes the briefing report: one self-contained HTML file (goal tree, target charts,
    /// milestones, partners, export concentration), optionally as of a past time.
    Report(report::ReportArgs),
}

/// Fails a command-line combination that clap cannot express.
pub fn usage<T>(msg: impl Into<String>) -> Result<T, CliError> {
    Err(CliError::usage(msg))
}

/// Imports the data files under `path` (a file or a directory) with `client`, as
/// `registryctl import -q PATH` does; the error is the lines registryctl would print.
pub async fn import_seeds(client: &RegistryClient, path: &Path) -> Result<transfer::ImportReport, String> {
    let run = async {
        let files = transfer::read_files(&[path.to_owned()])?;
        let opts = transfer::ImportOptions {
            dry_run: false,
            quiet: true,
        };
        transfer::import_all(client, files, opts).await
    };
    run.await.map_err(|e| e.lines().join("\n"))
}
