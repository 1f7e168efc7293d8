//! `registryd healthcheck`: a gRPC health check against a running server, for container
//! HEALTHCHECKs (health is unauthenticated).

use std::time::Duration;

use anyhow::Context;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};

/// Asks `endpoint` (`http://host:port`, or `https://…` with `ca_pem`) for the status of
/// `service` (`""`: the whole server), all within `timeout`.
pub async fn check(
    endpoint: &str,
    service: &str,
    timeout: Duration,
    ca_pem: Option<Vec<u8>>,
) -> anyhow::Result<ServingStatus> {
    let mut ep = Endpoint::from_shared(endpoint.to_owned())
        .with_context(|| format!("invalid endpoint {endpoint:?}"))?
        .connect_timeout(timeout)
        .timeout(timeout);
    if let Some(ca) = ca_pem {
        ep = ep
            .tls_config(ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca)))
            .context("invalid TLS configuration")?;
    }
    let call = async {
        let channel = ep
            .connect()
            .await
            .with_context(|| format!("cannot connect to {endpoint}"))?;
        let resp = HealthClient::new(channel)
            .check(HealthCheckRequest {
                service: service.to_owned(),
            })
            .await
            .with_context(|| format!("health check of {endpoint} failed"))?;
        Ok::<_, anyhow::Error>(resp.into_inner().status())
    };
    tokio::time::timeout(timeout, call)
        .await
        .with_context(|| format!("no health answer from {endpoint} within {timeout:?}"))?
}
