//! Trade flows (`tradePartners/{partner}/tradeFlows/{year}`). The partners' own methods are
//! written by the tables of `resource.rs`, their List is in `pages.rs`.

use crate::{RegistryClient, Result, pb};

impl RegistryClient {
    /// Gets a trade flow (`tradePartners/{partner}/tradeFlows/{year}`).
    pub async fn get_trade_flow(&self, name: impl Into<String>) -> Result<pb::TradeFlow> {
        self.call(pb::GetTradeFlowRequest { name: name.into() }).await
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
        self.call(req).await.map(|_| ())
    }
}
