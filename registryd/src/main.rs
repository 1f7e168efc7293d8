//! `registryd` command line: `serve`, `migrate`, `dev`, `token` and `healthcheck`. This file
//! only dispatches; each command lives in its module under `cmd/`.

mod cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use registry_server::telemetry;

use cmd::{
    dev::DevArgs,
    healthcheck::HealthcheckArgs,
    serve::{MigrateArgs, ServeArgs},
    token::TokenCommand,
};

/// The Policy & Partner Registry server.
#[derive(Debug, Parser)]
#[command(name = "registryd", version, about)]
struct Cli {
    /// Log format.
    #[arg(
        long,
        env = "REGISTRY_LOG_FORMAT",
        value_enum,
        default_value = "pretty",
        global = true
    )]
    log_format: telemetry::LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run migrations, then serve gRPC until SIGTERM/Ctrl-C.
    Serve(Box<ServeArgs>),
    /// Run database migrations (as the schema's owner) and exit; optionally grant a
    /// DML-only role what `serve` needs.
    Migrate(MigrateArgs),
    /// Development: find or start a PostgreSQL (DATABASE_URL, else a private cluster in
    /// --data-dir), then serve like `serve` until SIGTERM/Ctrl-C and stop that PostgreSQL.
    Dev(DevArgs),
    /// Manage API tokens directly in the database (bootstrap, break-glass).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Check a running server's gRPC health (for container HEALTHCHECKs): exit 0 when it
    /// answers SERVING, 1 otherwise.
    Healthcheck(HealthcheckArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let _telemetry = telemetry::init(cli.log_format);
    let result = match cli.command {
        Command::Serve(args) => cmd::serve::serve(*args).await.map(|()| ExitCode::SUCCESS),
        Command::Migrate(args) => cmd::serve::migrate(args).await.map(|()| ExitCode::SUCCESS),
        Command::Dev(args) => cmd::dev::run(args).await.map(|()| ExitCode::SUCCESS),
        Command::Token(command) => cmd::token::run(command).await.map(|()| ExitCode::SUCCESS),
        Command::Healthcheck(args) => cmd::healthcheck::run(args).await,
    };
    match result {
        Ok(code) => code,
        // The error and its causes, one line, no backtrace: these are operator-facing.
        Err(e) => {
            eprintln!("registryd: {e:#}");
            ExitCode::FAILURE
        }
    }
}
