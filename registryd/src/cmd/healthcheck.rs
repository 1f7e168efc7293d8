//! `registryd healthcheck`: exit 0 when the server answers SERVING, 1 otherwise (for container
//! HEALTHCHECKs).

use std::{path::PathBuf, process::ExitCode, time::Duration};

use clap::Args;
use tonic_health::pb::health_check_response::ServingStatus;

use super::config::read_file;

#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// gRPC endpoint of the server (`https://…` needs --tls-ca).
    #[arg(
        long,
        env = "REGISTRY_HEALTHCHECK_ENDPOINT",
        default_value = "http://127.0.0.1:50051"
    )]
    endpoint: String,
    /// Service to check; empty for the whole server.
    #[arg(long, default_value = "")]
    service: String,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 5)]
    timeout_secs: u64,
    /// PEM CA bundle to verify an `https://` endpoint.
    #[arg(long, env = "REGISTRY_HEALTHCHECK_TLS_CA")]
    tls_ca: Option<PathBuf>,
}

/// `registryd healthcheck`.
pub async fn run(args: HealthcheckArgs) -> anyhow::Result<ExitCode> {
    let ca = args
        .tls_ca
        .as_deref()
        .map(|p| read_file(p, "TLS CA bundle"))
        .transpose()?;
    let timeout = Duration::from_secs(args.timeout_secs.max(1));
    match registryd::healthcheck::check(&args.endpoint, &args.service, timeout, ca).await {
        Ok(status) => {
            println!("{}", status.as_str_name());
            Ok(if status == ServingStatus::Serving {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Err(e) => {
            eprintln!("unhealthy: {e:#}");
            Ok(ExitCode::FAILURE)
        }
    }
}
