//! One page stream for every List method.
//!
//! A List request/response pair implements [`Listed`]: how to fetch one page, how to set the
//! page token on a request, how to take the items and the next token from a response.
//! [`RegistryClient::pages`] then walks every page of any of them; the `list_*` stream
//! methods are this one stream under their own names.

use std::future::Future;

use futures::{Stream, TryStreamExt, stream};

use crate::{Error, RegistryClient, Result, pb};

/// A List request whose results come in pages (AIP-158).
pub trait Listed: Clone + Send + Sync + 'static {
    /// The response of one page.
    type Response: Send + 'static;
    /// One listed resource.
    type Item: Send + 'static;

    /// Fetches the page this request asks for.
    fn fetch(self, client: &RegistryClient) -> impl Future<Output = Result<Self::Response>> + Send;
    /// Asks for the page after the one that gave `token`.
    fn set_page_token(&mut self, token: String);
    /// The items of a page and the token of the next one (empty after the last page).
    fn into_page(response: Self::Response) -> (Vec<Self::Item>, String);
}

impl RegistryClient {
    /// Gets the one page `req` asks for.
    pub async fn page<R: Listed>(&self, req: R) -> Result<R::Response> {
        req.fetch(self).await
    }

    /// Streams every item matching `req`, fetching pages as it goes.
    pub fn pages<R: Listed>(&self, req: R) -> impl Stream<Item = Result<R::Item>> + Send + 'static {
        let client = self.clone();
        stream::try_unfold(Some(req), move |next| {
            let client = client.clone();
            async move {
                let Some(req) = next else { return Ok::<_, Error>(None) };
                let (items, token) = R::into_page(req.clone().fetch(&client).await?);
                let following = (!token.is_empty()).then(|| {
                    let mut req = req;
                    req.set_page_token(token);
                    req
                });
                Ok(Some((stream::iter(items.into_iter().map(Ok)), following)))
            }
        })
        .try_flatten()
    }
}

/// `Listed` for each List request: `service.rpc(Request) -> Response { items: Item }`, and
/// optionally the names of its one-page method and its stream method on [`RegistryClient`].
macro_rules! listed {
    ($($svc:ident.$rpc:ident($req:ident) -> $resp:ident { $items:ident: $item:ident } $(as $page:ident, $stream:ident, $what:literal)?;)*) => {$(
        impl Listed for pb::$req {
            type Response = pb::$resp;
            type Item = pb::$item;
            fn fetch(self, client: &RegistryClient) -> impl Future<Output = Result<pb::$resp>> + Send {
                client.send(&client.$svc, true, |mut c, r| async move { c.$rpc(r).await }, self)
            }
            fn set_page_token(&mut self, token: String) {
                self.page_token = token;
            }
            fn into_page(response: pb::$resp) -> (Vec<pb::$item>, String) {
                (response.$items, response.next_page_token)
            }
        }
        $(impl RegistryClient {
            #[doc = concat!("Gets one page of ", $what, ".")]
            pub async fn $page(&self, req: pb::$req) -> Result<pb::$resp> {
                self.page(req).await
            }
            #[doc = concat!("Streams all ", $what, " matching `req`, fetching pages as it goes.")]
            pub fn $stream(&self, req: pb::$req) -> impl Stream<Item = Result<pb::$item>> + Send + 'static {
                self.pages(req)
            }
        })?
    )*};
}

listed! {
    goals.list_policy_goals(ListPolicyGoalsRequest) -> ListPolicyGoalsResponse { policy_goals: PolicyGoal } as list_policy_goals_page, list_policy_goals, "goals";
    partners.list_trade_partners(ListTradePartnersRequest) -> ListTradePartnersResponse { trade_partners: TradePartner } as list_trade_partners_page, list_trade_partners, "partners";
    agreements.list_trade_agreements(ListTradeAgreementsRequest) -> ListTradeAgreementsResponse { trade_agreements: TradeAgreement } as list_trade_agreements_page, list_trade_agreements, "agreements";
    risks.list_risk_entries(ListRiskEntriesRequest) -> ListRiskEntriesResponse { risks: RiskEntry } as list_risk_entries_page, list_risk_entries, "risks of the register";
    partners.list_trade_flows(ListTradeFlowsRequest) -> ListTradeFlowsResponse { trade_flows: TradeFlow } as list_trade_flows_page, list_trade_flows, "trade flows (ordered by partner, then year)";
    goals.list_measurements(ListMeasurementsRequest) -> ListMeasurementsResponse { measurements: Measurement } as list_measurements_page, list_measurements, "a goal's measurements (ordered by observe time, then name)";
    goals.list_check_ins(ListCheckInsRequest) -> ListCheckInsResponse { check_ins: CheckIn } as list_check_ins_page, list_check_ins, "a goal's check-ins (newest first unless `order_by` says otherwise)";
    changes.list_changes(ListChangesRequest) -> ListChangesResponse { changes: Change } as list_changes_page, list_changes, "the change history";
    admin.list_tokens(ListTokensRequest) -> ListTokensResponse { tokens: Token };
    trade.list_product_sets(ListProductSetsRequest) -> ListProductSetsResponse { product_sets: ProductSet } as list_product_sets_page, list_product_sets, "product sets";
    trade.list_trade_records(ListTradeRecordsRequest) -> ListTradeRecordsResponse { records: TradeRecord } as list_trade_records_page, list_trade_records, "trade records of a year (ordered by exporter, importer, product)";
    trade.list_import_dependencies(ListImportDependenciesRequest) -> ListImportDependenciesResponse { dependencies: ImportDependency } as list_import_dependencies_page, list_import_dependencies, "an importer's import dependencies of a year (by product)";
    trade.list_dominated_products(ListDominatedProductsRequest) -> ListDominatedProductsResponse { products: DominatedProduct } as list_dominated_products_page, list_dominated_products, "the products a supplier dominates for an importer";
}
