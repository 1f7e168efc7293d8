//! Trade partners, trade flows and export concentration.

use crate::{RegistryClient, Result, page, pb, with_request_id};

impl RegistryClient {
    /// Creates a partner. A COUNTRY's id is its ISO 3166-1 alpha-2 code in lower case.
    pub async fn create_trade_partner(&self, req: pb::CreateTradePartnerRequest) -> Result<pb::TradePartner> {
        self.read(
            &self.partners,
            |mut c, r| async move { c.create_trade_partner(r).await },
            with_request_id(req, |r| &mut r.request_id),
        )
        .await
    }

    /// Gets a partner by name (`tradePartners/{partner}`), with its memberships and the live
    /// goals that link it.
    pub async fn get_trade_partner(&self, name: impl Into<String>) -> Result<pb::TradePartner> {
        self.read(
            &self.partners,
            |mut c, r| async move { c.get_trade_partner(r).await },
            pb::GetTradePartnerRequest {
                name: name.into(),
                read_time: None,
            },
        )
        .await
    }

    /// Gets a partner as it was at `read_time` (from the change history).
    pub async fn get_trade_partner_at(
        &self,
        name: impl Into<String>,
        read_time: prost_types::Timestamp,
    ) -> Result<pb::TradePartner> {
        self.read(
            &self.partners,
            |mut c, r| async move { c.get_trade_partner(r).await },
            pb::GetTradePartnerRequest {
                name: name.into(),
                read_time: Some(read_time),
            },
        )
        .await
    }

    /// Gets up to 1000 partners by name, in order; NOT_FOUND if any is missing.
    pub async fn batch_get_trade_partners<I, S>(&self, names: I) -> Result<Vec<pb::TradePartner>>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let req = pb::BatchGetTradePartnersRequest {
            names: names.into_iter().map(Into::into).collect(),
            allow_missing: false,
        };
        self.read(
            &self.partners,
            |mut c, r| async move { c.batch_get_trade_partners(r).await },
            req,
        )
        .await
        .map(|r| r.trade_partners)
    }

    /// Updates a partner (set `trade_partner.etag` for optimistic concurrency).
    pub async fn update_trade_partner(&self, req: pb::UpdateTradePartnerRequest) -> Result<pb::TradePartner> {
        page(self.partners.clone().update_trade_partner(req).await)
    }

    /// Soft-deletes a partner.
    pub async fn delete_trade_partner(&self, req: pb::DeleteTradePartnerRequest) -> Result<pb::TradePartner> {
        page(self.partners.clone().delete_trade_partner(req).await)
    }

    /// Restores a soft-deleted partner.
    pub async fn undelete_trade_partner(&self, req: pb::UndeleteTradePartnerRequest) -> Result<pb::TradePartner> {
        page(self.partners.clone().undelete_trade_partner(req).await)
    }

    /// Gets a trade flow (`tradePartners/{partner}/tradeFlows/{year}`).
    pub async fn get_trade_flow(&self, name: impl Into<String>) -> Result<pb::TradeFlow> {
        self.read(
            &self.partners,
            |mut c, r| async move { c.get_trade_flow(r).await },
            pb::GetTradeFlowRequest { name: name.into() },
        )
        .await
    }

    /// Creates or replaces a trade flow (`allow_missing` for an upsert).
    pub async fn update_trade_flow(&self, req: pb::UpdateTradeFlowRequest) -> Result<pb::TradeFlow> {
        page(self.partners.clone().update_trade_flow(req).await)
    }

    /// Upserts the exports and imports of a partner in a year.
    pub async fn upsert_trade_flow(
        &self,
        partner: &str,
        year: i32,
        exports_usd: i64,
        imports_usd: i64,
    ) -> Result<pb::TradeFlow> {
        self.update_trade_flow(pb::UpdateTradeFlowRequest {
            trade_flow: Some(pb::TradeFlow {
                name: format!("{partner}/tradeFlows/{year}"),
                exports_usd,
                imports_usd,
                ..Default::default()
            }),
            allow_missing: true,
            validate_only: false,
        })
        .await
    }

    /// Deletes a trade flow.
    pub async fn delete_trade_flow(&self, req: pb::DeleteTradeFlowRequest) -> Result<()> {
        page(self.partners.clone().delete_trade_flow(req).await).map(|_| ())
    }

    /// Export concentration of a year: shares, HHI, top-N share and dependency risks.
    pub async fn get_export_concentration(
        &self,
        req: pb::GetExportConcentrationRequest,
    ) -> Result<pb::ExportConcentration> {
        self.read(
            &self.partners,
            |mut c, r| async move { c.get_export_concentration(r).await },
            req,
        )
        .await
    }
}
