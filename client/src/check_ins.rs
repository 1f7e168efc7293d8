//! Check-ins on goals (`policyGoals/{goal}/checkIns/{check_in}`): append-only dated status
//! updates; they are listed (newest first) with [`RegistryClient::list_check_ins`].

use crate::{RegistryClient, Result, pb, with_request_id};

impl RegistryClient {
    /// Records a check-in on a live goal. Set `request_id` to make retries safe (one is
    /// generated otherwise): a retry returns the original check-in.
    pub async fn create_check_in(&self, req: pb::CreateCheckInRequest) -> Result<pb::CheckIn> {
        self.read(
            &self.goals,
            |mut c, r| async move { c.create_check_in(r).await },
            with_request_id(req, |r| &mut r.request_id),
        )
        .await
    }

    /// Gets a check-in by name (`policyGoals/{goal}/checkIns/{check_in}`); with `read_time`,
    /// NOT_FOUND unless it had been recorded by then.
    pub async fn get_check_in(
        &self,
        name: impl Into<String>,
        read_time: Option<prost_types::Timestamp>,
    ) -> Result<pb::CheckIn> {
        self.read(
            &self.goals,
            |mut c, r| async move { c.get_check_in(r).await },
            pb::GetCheckInRequest {
                name: name.into(),
                read_time,
            },
        )
        .await
    }

    /// Gets up to 1000 check-ins by name, in order; NOT_FOUND if any is missing unless
    /// `allow_missing`, which leaves missing ones out.
    pub async fn batch_get_check_ins(&self, req: pb::BatchGetCheckInsRequest) -> Result<Vec<pb::CheckIn>> {
        self.read(
            &self.goals,
            |mut c, r| async move { c.batch_get_check_ins(r).await },
            req,
        )
        .await
        .map(|r| r.check_ins)
    }
}
