//! `motie.registry.v1.TradePartnerService`.

use registry_proto::annotations::normalize_text;
use registry_proto::v1::{self as pb, trade_partner_service_server::TradePartnerService};
use tonic::{Request, Response, Status};

use super::{all, resource, write_ctx};
use crate::domain::partner::TradePartner;
use crate::domain::{
    Collection, Error, Id, Violations,
    list::{self, PageTokens},
    partner::{self, FlowSpec},
};

const PARTNERS: Collection = Collection::TradePartners;

/// Default share above which a partner is an export-dependency risk.
pub const DEFAULT_DEPENDENCY_THRESHOLD: f64 = 0.2;
/// Default number of partners `top_n_share` covers.
pub const DEFAULT_TOP_N: i32 = 5;

service_api!(
    /// The TradePartnerService implementation.
    PartnersApi
);

resource::resource_service! {
    impl TradePartnerService for PartnersApi {
        resource TradePartner / TradePartners { trade_partner / trade_partners };
        create;
    }


    async fn get_trade_flow(
        &self,
        request: Request<pb::GetTradeFlowRequest>,
    ) -> Result<Response<pb::TradeFlow>, Status> {
        let (id, year) = partner::parse_flow_name("name", &request.get_ref().name)?;
        let flow = self.store.get_flow(&id, year).await?;
        Ok(Response::new(flow.to_proto()))
    }

    async fn list_trade_flows(
        &self,
        request: Request<pb::ListTradeFlowsRequest>,
    ) -> Result<Response<pb::ListTradeFlowsResponse>, Status> {
        let r = request.get_ref();
        let mut v = Violations::new();
        let partner: Option<Option<Id>> = if r.parent == format!("{}/-", PARTNERS.prefix()) {
            Some(None)
        } else {
            all(&mut v, PARTNERS.parse_name("parent", &r.parent)).map(Some)
        };
        let page_size = all(&mut v, list::page_size(r.page_size));
        if r.year != 0 {
            crate::domain::check::year(&mut v, "year", r.year);
        }
        let (partner, page_size) = v.values((partner, page_size))?;
        let fingerprint = PageTokens::fingerprint(&["flows", &r.parent, &r.year.to_string()]);
        let page = self
            .store
            .list_flows(
                partner.as_ref(),
                (r.year != 0).then_some(r.year),
                page_size,
                &r.page_token,
                &fingerprint,
            )
            .await?;
        Ok(Response::new(pb::ListTradeFlowsResponse {
            trade_flows: page.flows.iter().map(|f| f.to_proto()).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn update_trade_flow(
        &self,
        mut request: Request<pb::UpdateTradeFlowRequest>,
    ) -> Result<Response<pb::TradeFlow>, Status> {
        normalize_text("UpdateTradeFlowRequest", request.get_mut());
        let r = request.get_ref();
        let Some(f) = &r.trade_flow else {
            return Err(Error::invalid("trade_flow", "is required").into());
        };
        let mut v = Violations::new();
        let name = all(&mut v, partner::parse_flow_name("trade_flow.name", &f.name));
        let spec = all(&mut v, FlowSpec::from_proto("trade_flow", f));
        if f.year != 0 && name.as_ref().is_some_and(|(_, y)| *y != f.year) {
            v.add(
                "trade_flow.year",
                "is output only and must match the year in the name (or be 0)",
            );
        }
        let ((id, year), spec) = v.values((name, spec))?;
        let ctx = write_ctx(&request, None, r.validate_only);
        let flow = self
            .store
            .upsert_flow(&id, year, &f.etag, spec, r.allow_missing, &ctx)
            .await?;
        Ok(Response::new(flow.to_proto()))
    }

    async fn delete_trade_flow(
        &self,
        request: Request<pb::DeleteTradeFlowRequest>,
    ) -> Result<Response<pb::DeleteTradeFlowResponse>, Status> {
        let r = request.get_ref();
        let (id, year) = partner::parse_flow_name("name", &r.name)?;
        let ctx = write_ctx(&request, None, false);
        self.store
            .delete_flow(&id, year, &r.etag, r.allow_missing, &ctx)
            .await?;
        Ok(Response::new(pb::DeleteTradeFlowResponse {}))
    }

    async fn get_export_concentration(
        &self,
        request: Request<pb::GetExportConcentrationRequest>,
    ) -> Result<Response<pb::ExportConcentration>, Status> {
        let r = request.get_ref();
        let mut v = Violations::new();
        crate::domain::check::year(&mut v, "year", r.year);
        let top_n = if r.top_n == 0 { DEFAULT_TOP_N } else { r.top_n };
        if !(1..=1000).contains(&top_n) {
            v.add("top_n", "must be 1..=1000 (0 for the default 5)");
        }
        let threshold = r.dependency_threshold.unwrap_or(DEFAULT_DEPENDENCY_THRESHOLD);
        if !(threshold.is_finite() && threshold > 0.0 && threshold < 1.0) {
            v.add("dependency_threshold", "must be a share strictly between 0 and 1");
        }
        v.finish(|| ())?;
        let data = self.store.year_exports(r.year).await?;
        let c = partner::concentration(data.countries, top_n as usize);
        let share_of = |id: &Id| c.shares.iter().find(|(p, _)| &p.partner == id);
        let shares: Vec<pb::PartnerShare> = c
            .shares
            .iter()
            .map(|(p, s)| pb::PartnerShare {
                partner: PARTNERS.name(&p.partner),
                display_name: p.display_name.clone(),
                exports_usd: p.exports_usd,
                share: *s,
                dependency_risk: *s > threshold,
            })
            .collect();
        let mut group_shares: Vec<pb::PartnerShare> = data
            .groups
            .iter()
            .map(|(id, name, members)| {
                let (usd, share) = members
                    .iter()
                    .filter_map(share_of)
                    .fold((0i64, 0.0), |(u, s), (p, ps)| (u.saturating_add(p.exports_usd), s + ps));
                pb::PartnerShare {
                    partner: PARTNERS.name(id),
                    display_name: name.clone(),
                    exports_usd: usd,
                    share,
                    dependency_risk: share > threshold,
                }
            })
            .collect();
        group_shares.sort_by(|a, b| b.share.total_cmp(&a.share).then_with(|| a.partner.cmp(&b.partner)));
        Ok(Response::new(pb::ExportConcentration {
            year: r.year,
            total_exports_usd: c.total_exports_usd,
            hhi: c.hhi,
            shares,
            top_n_share: c.top_n_share,
            top_n,
            dependency_threshold: threshold,
            group_shares,
            excluded_partners: PARTNERS.names(&data.excluded),
        }))
    }
}
