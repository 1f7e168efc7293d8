//! Measurements of goal targets (`policyGoals/{goal}/measurements/{measurement}`); they are
//! listed with [`RegistryClient::list_measurements`].

use crate::{RegistryClient, Result, page, pb};

impl RegistryClient {
    /// Records a measurement of one of a live goal's targets. Set `request_id` to make
    /// retries safe: a retry returns the original measurement.
    pub async fn record_measurement(&self, req: pb::RecordMeasurementRequest) -> Result<pb::Measurement> {
        page(self.goals.clone().record_measurement(req).await)
    }
}
