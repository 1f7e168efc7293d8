//! Measurements of goal targets (`policyGoals/{goal}/measurements/{measurement}`).

use futures::{Stream, TryStreamExt, stream};

use crate::{Error, RegistryClient, Result, page, pb};

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
        page(self.goals.clone().list_measurements(req).await)
    }

    /// Streams every measurement matching `req`, fetching pages as it goes.
    pub fn list_measurements(
        &self,
        req: pb::ListMeasurementsRequest,
    ) -> impl Stream<Item = Result<pb::Measurement>> + Send + 'static {
        let client = self.clone();
        stream::try_unfold(Some(req), move |next| {
            let client = client.clone();
            async move {
                let Some(req) = next else { return Ok::<_, Error>(None) };
                let resp = client.list_measurements_page(req.clone()).await?;
                let following = (!resp.next_page_token.is_empty()).then(|| pb::ListMeasurementsRequest {
                    page_token: resp.next_page_token.clone(),
                    ..req
                });
                Ok(Some((stream::iter(resp.measurements.into_iter().map(Ok)), following)))
            }
        })
        .try_flatten()
    }
}
