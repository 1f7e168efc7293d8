//! Agreements (`agreements/{agreement}`). Their List is in `pages.rs`.

use crate::{RegistryClient, Result, page, pb, with_request_id};

impl RegistryClient {
    /// Creates an agreement; its parties must be live partners.
    pub async fn create_trade_agreement(&self, req: pb::CreateTradeAgreementRequest) -> Result<pb::TradeAgreement> {
        self.read(
            &self.agreements,
            |mut c, r| async move { c.create_trade_agreement(r).await },
            with_request_id(req, |r| &mut r.request_id),
        )
        .await
    }

    /// Gets an agreement by name (`agreements/{agreement}`), with its derived status.
    pub async fn get_trade_agreement(&self, name: impl Into<String>) -> Result<pb::TradeAgreement> {
        self.read(
            &self.agreements,
            |mut c, r| async move { c.get_trade_agreement(r).await },
            pb::GetTradeAgreementRequest {
                name: name.into(),
                read_time: None,
            },
        )
        .await
    }

    /// Gets an agreement as it was at `read_time` (from the change history).
    pub async fn get_trade_agreement_at(
        &self,
        name: impl Into<String>,
        read_time: prost_types::Timestamp,
    ) -> Result<pb::TradeAgreement> {
        self.read(
            &self.agreements,
            |mut c, r| async move { c.get_trade_agreement(r).await },
            pb::GetTradeAgreementRequest {
                name: name.into(),
                read_time: Some(read_time),
            },
        )
        .await
    }

    /// Gets up to 1000 agreements by name, in order (`allow_missing` leaves out missing ones).
    pub async fn batch_get_trade_agreements(
        &self,
        req: pb::BatchGetTradeAgreementsRequest,
    ) -> Result<Vec<pb::TradeAgreement>> {
        self.read(
            &self.agreements,
            |mut c, r| async move { c.batch_get_trade_agreements(r).await },
            req,
        )
        .await
        .map(|r| r.trade_agreements)
    }

    /// Updates an agreement (set `trade_agreement.etag` for optimistic concurrency).
    pub async fn update_trade_agreement(&self, req: pb::UpdateTradeAgreementRequest) -> Result<pb::TradeAgreement> {
        page(self.agreements.clone().update_trade_agreement(req).await)
    }

    /// Soft-deletes an agreement.
    pub async fn delete_trade_agreement(&self, req: pb::DeleteTradeAgreementRequest) -> Result<pb::TradeAgreement> {
        page(self.agreements.clone().delete_trade_agreement(req).await)
    }

    /// Restores a soft-deleted agreement.
    pub async fn undelete_trade_agreement(&self, req: pb::UndeleteTradeAgreementRequest) -> Result<pb::TradeAgreement> {
        page(self.agreements.clone().undelete_trade_agreement(req).await)
    }
}
