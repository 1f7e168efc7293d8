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

/// `Listed` for a request type: its response, the field holding the items, and the call.
macro_rules! listed {
    ($req:ty => $resp:ty, $items:ident: $item:ty, |$client:ident, $r:ident| $fetch:expr) => {
        impl Listed for $req {
            type Response = $resp;
            type Item = $item;
            fn fetch(self, $client: &RegistryClient) -> impl Future<Output = Result<$resp>> + Send {
                let $r = self;
                $fetch
            }
            fn set_page_token(&mut self, token: String) {
                self.page_token = token;
            }
            fn into_page(response: $resp) -> (Vec<$item>, String) {
                (response.$items, response.next_page_token)
            }
        }
    };
}

listed!(pb::ListPolicyGoalsRequest => pb::ListPolicyGoalsResponse, policy_goals: pb::PolicyGoal,
    |client, req| client.read(&client.goals, |mut c, r| async move { c.list_policy_goals(r).await }, req));
listed!(pb::ListTradePartnersRequest => pb::ListTradePartnersResponse, trade_partners: pb::TradePartner,
    |client, req| client.read(&client.partners, |mut c, r| async move { c.list_trade_partners(r).await }, req));
listed!(pb::ListTradeFlowsRequest => pb::ListTradeFlowsResponse, trade_flows: pb::TradeFlow,
    |client, req| client.read(&client.partners, |mut c, r| async move { c.list_trade_flows(r).await }, req));
listed!(pb::ListChangesRequest => pb::ListChangesResponse, changes: pb::Change,
    |client, req| client.read(&client.changes, |mut c, r| async move { c.list_changes(r).await }, req));
listed!(pb::ListTokensRequest => pb::ListTokensResponse, tokens: pb::Token,
    |client, req| client.read(&client.admin, |mut c, r| async move { c.list_tokens(r).await }, req));
listed!(pb::ListMeasurementsRequest => pb::ListMeasurementsResponse, measurements: pb::Measurement,
    |client, req| client.read(&client.goals, |mut c, r| async move { c.list_measurements(r).await }, req));
