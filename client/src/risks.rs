//! The risk register (`risks/{risk}`).

use crate::{RegistryClient, Result, page, pb, with_request_id};

impl RegistryClient {
    /// Creates a risk. Set `request_id` to make retries safe (one is generated otherwise).
    pub async fn create_risk_entry(&self, req: pb::CreateRiskEntryRequest) -> Result<pb::RiskEntry> {
        self.read(
            &self.risks,
            |mut c, r| async move { c.create_risk_entry(r).await },
            with_request_id(req, |r| &mut r.request_id),
        )
        .await
    }

    /// Gets a risk by name (`risks/{risk}`), live or soft-deleted.
    pub async fn get_risk_entry(&self, name: impl Into<String>) -> Result<pb::RiskEntry> {
        self.get_risk(name.into(), None).await
    }

    /// Gets a risk as it was at `read_time` (from the change history).
    pub async fn get_risk_entry_at(
        &self,
        name: impl Into<String>,
        read_time: prost_types::Timestamp,
    ) -> Result<pb::RiskEntry> {
        self.get_risk(name.into(), Some(read_time)).await
    }

    async fn get_risk(&self, name: String, read_time: Option<prost_types::Timestamp>) -> Result<pb::RiskEntry> {
        self.read(
            &self.risks,
            |mut c, r| async move { c.get_risk_entry(r).await },
            pb::GetRiskEntryRequest { name, read_time },
        )
        .await
    }

    /// Gets up to 1000 risks by name, in order; NOT_FOUND if any is missing unless
    /// `allow_missing`, which leaves missing ones out.
    pub async fn batch_get_risk_entries(&self, req: pb::BatchGetRiskEntriesRequest) -> Result<Vec<pb::RiskEntry>> {
        self.read(
            &self.risks,
            |mut c, r| async move { c.batch_get_risk_entries(r).await },
            req,
        )
        .await
        .map(|r| r.risks)
    }

    /// Updates a risk (set `risk.etag` for optimistic concurrency).
    pub async fn update_risk_entry(&self, req: pb::UpdateRiskEntryRequest) -> Result<pb::RiskEntry> {
        page(self.risks.clone().update_risk_entry(req).await)
    }

    /// Soft-deletes a risk.
    pub async fn delete_risk_entry(&self, req: pb::DeleteRiskEntryRequest) -> Result<pb::RiskEntry> {
        page(self.risks.clone().delete_risk_entry(req).await)
    }

    /// Restores a soft-deleted risk.
    pub async fn undelete_risk_entry(&self, req: pb::UndeleteRiskEntryRequest) -> Result<pb::RiskEntry> {
        page(self.risks.clone().undelete_risk_entry(req).await)
    }
}
