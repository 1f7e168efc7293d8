//! One generic resource client (kube-rs's `Api<K>` is the model).
//!
//! Each unary RPC is a [`Call`]: its request type knows the service and the method that serve
//! it and whether a retry is safe (reads; creates, which carry a request id). Each resource
//! kind is a [`Resource`]: its Get and BatchGet requests. [`RegistryClient::call`],
//! [`RegistryClient::get`] and [`RegistryClient::batch_get`] serve every kind; the named
//! methods (`get_policy_goal`, `update_trade_partner`, …) are these under their own names,
//! written out by the two tables below.

use std::future::Future;

use crate::{RegistryClient, Result, pb, with_request_id};

/// A unary request of the registry: the RPC that answers it, retried when that is safe.
pub trait Call: Clone + Send + Sync + 'static {
    /// What the RPC returns.
    type Response: Send + 'static;

    /// Sends the request (creates get a request id first if they have none).
    fn call(self, client: &RegistryClient) -> impl Future<Output = Result<Self::Response>> + Send;
}

/// A resource kind: how to ask for one by name and for several at once.
pub trait Resource: Send + Sized + 'static {
    /// Its Get request.
    type Get: Call<Response = Self>;
    /// Its BatchGet request.
    type BatchGet: Call;

    /// The Get request of `name` (as it was at `read_time`, if given).
    fn get_request(name: String, read_time: Option<prost_types::Timestamp>) -> Self::Get;
    /// The BatchGet request of `names`; `allow_missing` leaves out missing ones instead of
    /// NOT_FOUND.
    fn batch_get_request(names: Vec<String>, allow_missing: bool) -> Self::BatchGet;
    /// The resources of a BatchGet response, in the order asked.
    fn batch_items(response: <Self::BatchGet as Call>::Response) -> Vec<Self>;
}

impl RegistryClient {
    /// Sends one unary request (see [`Call`]).
    pub async fn call<R: Call>(&self, req: R) -> Result<R::Response> {
        req.call(self).await
    }

    /// Gets a resource by name, as it is or as it was at `read_time` (from the change history).
    pub async fn get<K: Resource>(
        &self,
        name: impl Into<String>,
        read_time: Option<prost_types::Timestamp>,
    ) -> Result<K> {
        self.call(K::get_request(name.into(), read_time)).await
    }

    /// Gets up to 1000 resources by name, in order; NOT_FOUND if any is missing unless
    /// `allow_missing`, which leaves missing ones out.
    pub async fn batch_get<K: Resource, I, S>(&self, names: I, allow_missing: bool) -> Result<Vec<K>>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let names = names.into_iter().map(Into::into).collect();
        self.call(K::batch_get_request(names, allow_missing))
            .await
            .map(K::batch_items)
    }
}

/// `Call` for each request: `service.rpc(Request) -> Response`, how it is sent (`read` and
/// `create` are retried, `create` gets a request id, `write` goes once), and optionally the
/// name and doc of its method on [`RegistryClient`].
macro_rules! calls {
    ($($svc:ident.$rpc:ident($req:ident) -> $resp:ident $mode:ident $(as $method:ident $doc:expr)?;)*) => {$(
        impl Call for pb::$req {
            type Response = pb::$resp;
            fn call(self, client: &RegistryClient) -> impl Future<Output = Result<pb::$resp>> + Send {
                client.send(
                    &client.$svc,
                    calls!(@retried $mode),
                    |mut c, r| async move { c.$rpc(r).await },
                    calls!(@prepare $mode self),
                )
            }
        }
        $(impl RegistryClient {
            #[doc = $doc]
            pub async fn $method(&self, req: pb::$req) -> Result<pb::$resp> {
                self.call(req).await
            }
        })?
    )*};
    (@retried write) => { false };
    (@retried $mode:ident) => { true };
    (@prepare create $req:expr) => { with_request_id($req, |r| &mut r.request_id) };
    (@prepare $mode:ident $req:expr) => { $req };
}

calls! {
    goals.batch_create_policy_goals(BatchCreatePolicyGoalsRequest) -> BatchCreatePolicyGoalsResponse create;
    goals.change_policy_goal_state(ChangePolicyGoalStateRequest) -> PolicyGoal write as change_policy_goal_state "Moves a goal through its lifecycle.";
    goals.record_measurement(RecordMeasurementRequest) -> Measurement write as record_measurement "Records a measurement of one of a live goal's targets. Set `request_id` to make retries safe: a retry returns the original measurement.";
    partners.get_trade_flow(GetTradeFlowRequest) -> TradeFlow read;
    partners.update_trade_flow(UpdateTradeFlowRequest) -> TradeFlow write as update_trade_flow "Creates or replaces a trade flow (`allow_missing` for an upsert).";
    partners.delete_trade_flow(DeleteTradeFlowRequest) -> DeleteTradeFlowResponse write;
    partners.get_export_concentration(GetExportConcentrationRequest) -> ExportConcentration read as get_export_concentration "Export concentration of a year: shares, HHI, top-N share and dependency risks.";
    admin.create_token(CreateTokenRequest) -> CreateTokenResponse write as create_token "Creates an API token (ADMIN). The secret is in the response only.";
    admin.revoke_token(RevokeTokenRequest) -> Token write;
    admin.rotate_token(RotateTokenRequest) -> RotateTokenResponse write;
}

/// `Resource` for each kind, one row each: `Kind in service (its Get RPC(request), its
/// BatchGet RPC(request) -> response { items } under the parent of a generic batch get)`, what
/// one is called and its name pattern (for the docs), then its methods on [`RegistryClient`] by
/// form: `get(name)`, `get_at(name, read_time)`, `get_opt(name, Option<read_time>)`,
/// `batch_names(names)`, `batch_existing(names)` (missing ones left out), `batch(request)`,
/// and the writes `create`, `update`, `delete`, `undelete` (each its RPC and request type).
macro_rules! resources {
    ($($kind:ident in $svc:ident ($getrpc:ident($get:ident), $batchrpc:ident($batch:ident) -> $batchresp:ident { $items:ident } $(under $parent:literal)?) $what:literal $pattern:literal: $($form:ident $method:ident $(($req:ident))?),*;)*) => {$(
        calls! {
            $svc.$getrpc($get) -> $kind read;
            $svc.$batchrpc($batch) -> $batchresp read;
        }
        impl Resource for pb::$kind {
            type Get = pb::$get;
            type BatchGet = pb::$batch;
            fn get_request(name: String, read_time: Option<prost_types::Timestamp>) -> Self::Get {
                Self::Get { name, read_time }
            }
            fn batch_get_request(names: Vec<String>, allow_missing: bool) -> Self::BatchGet {
                Self::BatchGet { names, allow_missing, $(parent: $parent.into())? }
            }
            fn batch_items(response: <Self::BatchGet as Call>::Response) -> Vec<Self> {
                response.$items
            }
        }
        $(resources!(@method $form $method $(($req))? $svc $kind, $what, $pattern);)*
    )*};
    (@method create $rpc:ident($req:ident) $svc:ident $kind:ident, $what:literal, $pattern:literal) => {
        calls! { $svc.$rpc($req) -> $kind create as $rpc concat!("Creates a ", $what, ". Set `request_id` to make retries safe (one is generated otherwise): a retry returns the original ", $what, "."); }
    };
    (@method update $rpc:ident($req:ident) $svc:ident $kind:ident, $what:literal, $pattern:literal) => {
        calls! { $svc.$rpc($req) -> $kind write as $rpc concat!("Updates a ", $what, " (set its `etag` for optimistic concurrency)."); }
    };
    (@method delete $rpc:ident($req:ident) $svc:ident $kind:ident, $what:literal, $pattern:literal) => {
        calls! { $svc.$rpc($req) -> $kind write as $rpc concat!("Soft-deletes a ", $what, "."); }
    };
    (@method undelete $rpc:ident($req:ident) $svc:ident $kind:ident, $what:literal, $pattern:literal) => {
        calls! { $svc.$rpc($req) -> $kind write as $rpc concat!("Restores a soft-deleted ", $what, "."); }
    };
    (@method $form:ident $method:ident $svc:ident $kind:ident, $what:literal, $pattern:literal) => {
        impl RegistryClient {
            resources!(@read $form $method pb::$kind, $what, $pattern);
        }
    };
    (@read get $method:ident $kind:ty, $what:literal, $pattern:literal) => {
        #[doc = concat!("Gets a ", $what, " by name (`", $pattern, "`).")]
        pub async fn $method(&self, name: impl Into<String>) -> Result<$kind> {
            self.get(name, None).await
        }
    };
    (@read get_at $method:ident $kind:ty, $what:literal, $pattern:literal) => {
        #[doc = concat!("Gets a ", $what, " as it was at `read_time` (from the change history).")]
        pub async fn $method(&self, name: impl Into<String>, read_time: prost_types::Timestamp) -> Result<$kind> {
            self.get(name, Some(read_time)).await
        }
    };
    (@read get_opt $method:ident $kind:ty, $what:literal, $pattern:literal) => {
        #[doc = concat!("Gets a ", $what, " by name (`", $pattern, "`); with `read_time`, as it was then (NOT_FOUND if it did not exist yet).")]
        pub async fn $method(&self, name: impl Into<String>, read_time: Option<prost_types::Timestamp>) -> Result<$kind> {
            self.get(name, read_time).await
        }
    };
    (@read batch_names $method:ident $kind:ty, $what:literal, $pattern:literal) => {
        resources!(@by_names $method $kind, false, concat!("Gets up to 1000 ", $what, "s by name, in order; NOT_FOUND if any is missing."));
    };
    (@read batch_existing $method:ident $kind:ty, $what:literal, $pattern:literal) => {
        resources!(@by_names $method $kind, true, concat!("Gets the ", $what, "s among up to 1000 names that exist (soft-deleted ones too), in the order asked; missing names are left out."));
    };
    (@by_names $method:ident $kind:ty, $allow_missing:literal, $doc:expr) => {
        #[doc = $doc]
        pub async fn $method<I, S>(&self, names: I) -> Result<Vec<$kind>>
        where
            I: IntoIterator<Item = S>,
            S: Into<String>,
        {
            self.batch_get(names, $allow_missing).await
        }
    };
    (@read batch $method:ident $kind:ty, $what:literal, $pattern:literal) => {
        #[doc = concat!("Gets up to 1000 ", $what, "s by name, in order; NOT_FOUND if any is missing unless `allow_missing`, which leaves missing ones out.")]
        pub async fn $method(&self, req: <$kind as Resource>::BatchGet) -> Result<Vec<$kind>> {
            self.call(req).await.map(<$kind as Resource>::batch_items)
        }
    };
}

resources! {
    PolicyGoal in goals (get_policy_goal(GetPolicyGoalRequest), batch_get_policy_goals(BatchGetPolicyGoalsRequest) -> BatchGetPolicyGoalsResponse { policy_goals }) "goal" "policyGoals/{goal}": get get_policy_goal, get_at get_policy_goal_at, batch_names batch_get_policy_goals, batch_existing batch_get_existing_policy_goals, create create_policy_goal(CreatePolicyGoalRequest), update update_policy_goal(UpdatePolicyGoalRequest), delete delete_policy_goal(DeletePolicyGoalRequest), undelete undelete_policy_goal(UndeletePolicyGoalRequest);
    TradePartner in partners (get_trade_partner(GetTradePartnerRequest), batch_get_trade_partners(BatchGetTradePartnersRequest) -> BatchGetTradePartnersResponse { trade_partners }) "partner" "tradePartners/{partner}": get get_trade_partner, get_at get_trade_partner_at, batch_names batch_get_trade_partners, create create_trade_partner(CreateTradePartnerRequest), update update_trade_partner(UpdateTradePartnerRequest), delete delete_trade_partner(DeleteTradePartnerRequest), undelete undelete_trade_partner(UndeleteTradePartnerRequest);
    TradeAgreement in agreements (get_trade_agreement(GetTradeAgreementRequest), batch_get_trade_agreements(BatchGetTradeAgreementsRequest) -> BatchGetTradeAgreementsResponse { trade_agreements }) "agreement" "agreements/{agreement}": get get_trade_agreement, get_at get_trade_agreement_at, batch batch_get_trade_agreements, create create_trade_agreement(CreateTradeAgreementRequest), update update_trade_agreement(UpdateTradeAgreementRequest), delete delete_trade_agreement(DeleteTradeAgreementRequest), undelete undelete_trade_agreement(UndeleteTradeAgreementRequest);
    RiskEntry in risks (get_risk_entry(GetRiskEntryRequest), batch_get_risk_entries(BatchGetRiskEntriesRequest) -> BatchGetRiskEntriesResponse { risks }) "risk" "risks/{risk}": get get_risk_entry, get_at get_risk_entry_at, batch batch_get_risk_entries, create create_risk_entry(CreateRiskEntryRequest), update update_risk_entry(UpdateRiskEntryRequest), delete delete_risk_entry(DeleteRiskEntryRequest), undelete undelete_risk_entry(UndeleteRiskEntryRequest);
    ProductSet in trade (get_product_set(GetProductSetRequest), batch_get_product_sets(BatchGetProductSetsRequest) -> BatchGetProductSetsResponse { product_sets }) "product set" "productSets/{product_set}": get get_product_set, get_at get_product_set_at, batch_names batch_get_product_sets, create create_product_set(CreateProductSetRequest), update update_product_set(UpdateProductSetRequest), delete delete_product_set(DeleteProductSetRequest), undelete undelete_product_set(UndeleteProductSetRequest);
    CheckIn in goals (get_check_in(GetCheckInRequest), batch_get_check_ins(BatchGetCheckInsRequest) -> BatchGetCheckInsResponse { check_ins } under "policyGoals/-") "check-in" "policyGoals/{goal}/checkIns/{check_in}": get_opt get_check_in, batch batch_get_check_ins, create create_check_in(CreateCheckInRequest);
}
