//! `grpc.health.v1` checks (no token needed).

use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};

use crate::{RegistryClient, Result, page};

/// What the server says about one service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthStatus {
    Serving,
    NotServing,
    /// Unknown or unspecified (e.g. a service the server does not know of).
    Unknown,
}

impl RegistryClient {
    /// Asks `grpc.health.v1.Health/Check` about `service` (`""` for the whole server).
    pub async fn health(&self, service: impl Into<String>) -> Result<HealthStatus> {
        let resp = page(
            HealthClient::new(self.channel.clone())
                .check(HealthCheckRequest {
                    service: service.into(),
                })
                .await,
        )?;
        Ok(match ServingStatus::try_from(resp.status) {
            Ok(ServingStatus::Serving) => HealthStatus::Serving,
            Ok(ServingStatus::NotServing) => HealthStatus::NotServing,
            _ => HealthStatus::Unknown,
        })
    }
}
