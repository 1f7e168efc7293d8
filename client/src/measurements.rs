//! Measurements of goal targets (`policyGoals/{goal}/measurements/{measurement}`).

use futures::Stream;

use crate::{RegistryClient, Result, page, pb};

impl RegistryClient {
    /// Records a measurement of one of a live goal's targets. Set `request_id` to make
    /// retries safe: a retry returns the original measurement.
    pub async fn record_measurement(&self, req: pb::RecordMeasurementRequest) -> Result<pb::Measurement> {
        page(self.goals.clone().record_measurement(req).await)
    }

    /// Gets one page of a goal's measurements (ordered by observe time, then name).
    pub async fn list_measurements_page(
        &self,
        req: pb::ListMeasurementsRequest,
    ) -> Result<pb::ListMeasurementsResponse> {
        self.page(req).await
    }

    /// Streams every measurement matching `req`, fetching pages as it goes.
    pub fn list_measurements(
        &self,
        req: pb::ListMeasurementsRequest,
    ) -> impl Stream<Item = Result<pb::Measurement>> + Send + 'static {
        self.pages(req)
    }
}
