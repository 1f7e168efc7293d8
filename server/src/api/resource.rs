//! The generic Get, List and BatchGet of every top-level resource: request checks, the store's
//! generic paths, and the proto answer. A service method of a resource is one call here.

use std::future::Future;

use bytes::{BufMut, Bytes, BytesMut};

use registry_proto::v1 as pb;
use tonic::{Request, Status};

use super::ListFields;
use crate::{
    domain::Stored,
    domain::{
        Error, Id, Violations,
        agreement::{AgreementPatch, AgreementSpec, TradeAgreement},
        goal::{GoalPatch, GoalSpec, PolicyGoal},
        mask,
        partner::{PartnerPatch, PartnerSpec, TradePartner},
        product_set::{ProductSet, ProductSetPatch, ProductSetSpec},
        risk::{RiskEntry, RiskPatch, RiskSpec},
    },
    store::{
        Resource, Store, Writable, WriteCtx,
        cache::{Encoding, ReadMode},
    },
};

/// A resource served over the API: its proto message.
pub(crate) trait ApiResource: Resource + Clone {
    type Proto;
    fn to_proto(&self) -> Self::Proto;
}

/// The soft delete and undelete of a resource (each resource's own rules: children,
/// links, memberships).
pub(crate) trait Deletable: ApiResource {
    fn delete<'a>(
        store: &'a Store,
        id: &'a Id,
        etag: &'a str,
        force: bool,
        allow_missing: bool,
        ctx: &'a WriteCtx,
    ) -> impl Future<Output = Result<Option<Self>, Error>> + Send + 'a;

    fn undelete<'a>(
        store: &'a Store,
        id: &'a Id,
        etag: &'a str,
        ctx: &'a WriteCtx,
    ) -> impl Future<Output = Result<Self, Error>> + Send + 'a;
}

/// The API traits of a resource whose proto message has its name (`pb::PolicyGoal` for
/// `PolicyGoal`): the store calls of its delete, undelete and update, the request field that
/// holds it, its patch and spec types, and the conversion functions that are its own.
macro_rules! api_resource {
    ($res:ident {
        field: $field:literal,
        patch: $patch:ident,
        spec: $spec:ident,
        create_spec: $create:path,
        store: $delete:ident, $undelete:ident, $update:ident $(,)?
    }) => {
        impl ApiResource for $res {
            type Proto = pb::$res;
            fn to_proto(&self) -> pb::$res {
                $res::to_proto(self)
            }
        }

        impl Deletable for $res {
            fn delete<'a>(
                store: &'a Store,
                id: &'a Id,
                etag: &'a str,
                force: bool,
                allow_missing: bool,
                ctx: &'a WriteCtx,
            ) -> impl Future<Output = Result<Option<Self>, Error>> + Send + 'a {
                store.$delete(id, etag, force, allow_missing, ctx)
            }

            fn undelete<'a>(
                store: &'a Store,
                id: &'a Id,
                etag: &'a str,
                ctx: &'a WriteCtx,
            ) -> impl Future<Output = Result<Self, Error>> + Send + 'a {
                store.$undelete(id, etag, ctx)
            }
        }

        impl Updatable for $res {
            type Msg = pb::$res;
            type Patch = $patch;
            type Spec = $spec;
            const FIELD: &'static str = $field;

            fn msg_name(msg: &pb::$res) -> &str {
                &msg.name
            }

            fn msg_etag(msg: &pb::$res) -> &str {
                &msg.etag
            }

            const MESSAGE: &'static str = stringify!($res);

            fn patch(fields: Vec<<pb::$res as super::convert::Patchable>::Field>) -> $patch {
                $patch(fields)
            }

            fn create_spec(msg: &pb::$res, id: &Id, id_field: &str) -> Result<$spec, Error> {
                $create(<Self as Updatable>::FIELD, msg, id, id_field)
            }

            fn update<'a>(
                store: &'a Store,
                id: &'a Id,
                etag: &'a str,
                mask: Vec<String>,
                patch: Result<$patch, Error>,
                create: Option<Result<$spec, Error>>,
                ctx: &'a WriteCtx,
            ) -> impl Future<Output = Result<Self, Error>> + Send + 'a {
                store.$update(id, etag, mask, patch, create, ctx)
            }
        }
    };
}

api_resource!(PolicyGoal {
    field: "policy_goal",
    patch: GoalPatch,
    spec: GoalSpec,
    create_spec: super::convert::goal::create_spec,
    store: delete_goal,
    undelete_goal,
    update_goal,
});

api_resource!(ProductSet {
    field: "product_set",
    patch: ProductSetPatch,
    spec: ProductSetSpec,
    create_spec: super::convert::product_set::create_spec,
    store: delete_resource,
    undelete_resource,
    update_resource,
});

api_resource!(TradePartner {
    field: "trade_partner",
    patch: PartnerPatch,
    spec: PartnerSpec,
    create_spec: super::convert::partner::create_spec,
    store: delete_resource,
    undelete_resource,
    update_resource,
});

api_resource!(TradeAgreement {
    field: "trade_agreement",
    patch: AgreementPatch,
    spec: AgreementSpec,
    create_spec: super::convert::agreement::create_spec,
    store: delete_resource,
    undelete_resource,
    update_resource,
});

api_resource!(RiskEntry {
    field: "risk",
    patch: RiskPatch,
    spec: RiskSpec,
    create_spec: super::convert::risk::create_spec,
    store: delete_resource,
    undelete_resource,
    update_resource,
});

/// The Update of a resource (AIP-134): the masked fields become a typed patch that the store
/// applies to the stored resource under its row lock; with `allow_missing`, a missing
/// resource is created from the whole message.
pub(crate) trait Updatable: ApiResource {
    /// The resource's proto message.
    type Msg: super::convert::Patchable + prost::Message + Sync;
    type Patch: Send;
    type Spec: Send;
    /// The request field holding the message (`policy_goal`), for violation paths.
    const FIELD: &'static str;

    fn msg_name(msg: &Self::Msg) -> &str;
    fn msg_etag(msg: &Self::Msg) -> &str;
    /// The message's name in the registry's proto package (`PolicyGoal`): an omitted mask
    /// means its populated fields.
    const MESSAGE: &'static str;
    fn patch(fields: Vec<<Self::Msg as super::convert::Patchable>::Field>) -> Self::Patch;
    /// The spec of a resource created from `msg` under `id` (an upsert, or a Create), `id`
    /// checked against it (violations at `id_field`).
    fn create_spec(msg: &Self::Msg, id: &Id, id_field: &str) -> Result<Self::Spec, Error>;
    #[allow(clippy::too_many_arguments)]
    fn update<'a>(
        store: &'a Store,
        id: &'a Id,
        etag: &'a str,
        mask: Vec<String>,
        patch: Result<Self::Patch, Error>,
        create: Option<Result<Self::Spec, Error>>,
        ctx: &'a WriteCtx,
    ) -> impl Future<Output = Result<Self, Error>> + Send + 'a;
}

/// The fields of an Update request.
pub(crate) struct UpdateFields<'a, M> {
    pub resource: Option<&'a M>,
    pub update_mask: Option<&'a prost_types::FieldMask>,
    pub allow_missing: bool,
    pub validate_only: bool,
}

/// Update: applies the masked fields of the request's resource; every violation at once.
pub(crate) async fn update<R: Updatable, T>(
    store: &Store,
    request: &Request<T>,
    r: UpdateFields<'_, R::Msg>,
) -> Result<R::Proto, Status> {
    let Some(msg) = r.resource else {
        return Err(Error::invalid(R::FIELD, "is required").into());
    };
    let populated = registry_proto::annotations::populated_fields(R::MESSAGE, msg);
    let mut v = Violations::new();
    let id = v.take(
        R::KIND
            .collection
            .parse_name(&format!("{}.name", R::FIELD), R::msg_name(msg)),
    );
    let paths = v.take(mask::resolve(
        R::KIND.fields,
        r.update_mask.map(|m| m.paths.as_slice()),
        |f| populated.iter().any(|p| p == f),
    ));
    let (id, paths) = v.values((id, paths))?;
    // Checked by the store after the lock, the etag and the deleted state, as AIP-134 orders
    // the errors of an update (NOT_FOUND, ABORTED and FAILED_PRECONDITION come first).
    let patch = super::convert::patch(R::FIELD, msg, &paths).map(R::patch);
    let create = r
        .allow_missing
        .then(|| R::create_spec(msg, &id, &format!("{}.name", R::FIELD)));
    let ctx = super::write_ctx(request, None, r.validate_only);
    let updated = R::update(
        store,
        &id,
        R::msg_etag(msg),
        super::mask_names(&paths),
        patch,
        create,
        &ctx,
    )
    .await?;
    Ok(store.completed(updated).await?.to_proto())
}

/// The fields of a Create request.
pub(crate) struct CreateFields<'a, M> {
    /// The request field of the resource id (`risk_id`) and its value.
    pub id_field: &'static str,
    pub id: &'a str,
    pub request_id: &'a str,
    pub resource: Option<&'a M>,
    pub validate_only: bool,
}

/// Create: the id, the request id and the resource message, every violation at once; a retry
/// with the same request id answers the original resource.
pub(crate) async fn create<R, T>(
    store: &Store,
    request: &Request<T>,
    r: CreateFields<'_, R::Msg>,
) -> Result<R::Proto, Status>
where
    R: Updatable<Spec = <R as Stored>::Spec> + Writable,
    R::Msg: super::convert::Patchable<Spec = <R as Stored>::Spec>,
{
    let mut v = Violations::new();
    let id = super::all(&mut v, Id::parse(r.id_field, r.id));
    let request_id = super::all(&mut v, crate::domain::request_id(r.request_id));
    let spec = match (r.resource, &id) {
        (Some(msg), Some(id)) => super::all(&mut v, R::create_spec(msg, id, r.id_field)),
        (Some(msg), None) => super::all(&mut v, super::convert::Patchable::spec(msg, <R as Updatable>::FIELD)),
        (None, _) => {
            v.add(<R as Updatable>::FIELD, "is required");
            None
        }
    };
    let (id, spec) = v.values((id, spec))?;
    let ctx = super::write_ctx(request, request_id.flatten(), r.validate_only);
    let created = store.create_resource::<R>(&id, spec, &ctx).await?;
    Ok(created.to_proto())
}

/// A resource's service: its standard methods (Get, List, BatchGet, Update, Delete,
/// Undelete and, with `create;`, Create), each one call into this module, then the service's
/// own methods as written. The method and message names come from the resource's name and its
/// plural (`get_risk_entry(GetRiskEntryRequest)`, `list_risk_entries(ListRiskEntriesRequest)`);
/// `{ risk / risks }` are the fields that hold one and a page of them (`risk_id` the id of a
/// Create). `calls` lists methods that are one call of a function of `module` with the store
/// and the request. The service struct has a `store: Store` field.
///
/// ```ignore
/// resource_service! {
///     impl RiskRegisterService for RisksApi {
///         resource RiskEntry / RiskEntries { risk / risks };
///         create;
///     }
///     async fn other_method(…) { … }
/// }
/// ```
macro_rules! resource_service {
    (
        impl $service:ident for $api:ident {
            resource $res:ident / $plural:ident { $field:ident / $items:ident };
            create;
            $(calls $module:ident { $($method:ident($req:ident) -> $resp:ident = $function:ident;)* })?
        }
        $($rest:tt)*
    ) => {
        pastey::paste! {
            $crate::api::resource::resource_service! {
                impl $service for $api {
                    resource $res / $plural { $field / $items };
                    $(calls $module { $($method($req) -> $resp = $function;)* })?
                }

                async fn [<create_ $res:snake>](
                    &self,
                    mut request: tonic::Request<pb::[<Create $res Request>]>,
                ) -> Result<tonic::Response<pb::$res>, tonic::Status> {
                    registry_proto::annotations::normalize_text(stringify!([<Create $res Request>]), request.get_mut());
                    let r = request.get_ref();
                    let fields = $crate::api::resource::CreateFields {
                        id_field: stringify!([<$field _id>]),
                        id: &r.[<$field _id>],
                        request_id: &r.request_id,
                        resource: r.$field.as_ref(),
                        validate_only: r.validate_only,
                    };
                    let item = $crate::api::resource::create::<$res, _>(&self.store, &request, fields).await?;
                    Ok(tonic::Response::new(item))
                }

                $($rest)*
            }
        }
    };
    (
        impl $service:ident for $api:ident {
            resource $res:ident / $plural:ident { $field:ident / $items:ident };
            $(calls $module:ident { $($method:ident($req:ident) -> $resp:ident = $function:ident;)* })?
        }
        $($rest:tt)*
    ) => {
        pastey::paste! {
            $crate::api::resource::resource_service! {
                @methods $service for $api (store, request) {
                    [<get_ $res:snake>]([<Get $res Request>]) -> $res {
                        let r = request.get_ref();
                        let mode = $crate::api::read_mode(&request);
                        $crate::api::resource::get::<$res>(store, &r.name, r.read_time.as_ref(), mode).await
                    }
                    [<list_ $plural:snake>]([<List $plural Request>]) -> [<List $plural Response>] {
                        let page = $crate::api::resource::list::<$res>(store, $crate::api::list_fields!(request.get_ref()));
                        page.await.map(|page| pb::[<List $plural Response>] {
                            $items: page.items,
                            next_page_token: page.next_page_token,
                            total_size: page.total_size,
                        })
                    }
                    [<batch_get_ $plural:snake>]([<BatchGet $plural Request>]) -> [<BatchGet $plural Response>] {
                        let (r, mode) = (request.get_ref(), $crate::api::read_mode(&request));
                        let $items = $crate::api::resource::batch_get::<$res>(store, &r.names, r.allow_missing, mode);
                        Ok(pb::[<BatchGet $plural Response>] { $items: $items.await? })
                    }
                    [<update_ $res:snake>]([<Update $res Request>]) -> $res {
                        let mut request = request;
                        registry_proto::annotations::normalize_text(stringify!([<Update $res Request>]), request.get_mut());
                        let r = request.get_ref();
                        let fields = $crate::api::resource::UpdateFields {
                            resource: r.$field.as_ref(),
                            update_mask: r.update_mask.as_ref(),
                            allow_missing: r.allow_missing,
                            validate_only: r.validate_only,
                        };
                        $crate::api::resource::update::<$res, _>(store, &request, fields).await
                    }
                    [<delete_ $res:snake>]([<Delete $res Request>]) -> $res {
                        let r = request.get_ref();
                        $crate::api::resource::delete::<$res, _>(store, &request, $crate::api::resource::DeleteFields {
                            name: &r.name,
                            etag: &r.etag,
                            force: r.force,
                            allow_missing: r.allow_missing,
                            validate_only: r.validate_only,
                        })
                        .await
                    }
                    [<undelete_ $res:snake>]([<Undelete $res Request>]) -> $res {
                        let r = request.get_ref();
                        $crate::api::resource::undelete::<$res, _>(store, &request, &r.name, &r.etag, r.validate_only).await
                    }
                    $($($method($req) -> $resp { $module::$function(store, request).await })*)?
                }
                $($rest)*
            }
        }
    };
    // One method a line above: its body, with `$store` the service's store and `$request` the
    // request, gives the answer's message or the error.
    (
        @methods $service:ident for $api:ident ($store:ident, $request:ident) {
            $($method:ident($req:ident) -> $resp:ident $body:block)*
        }
        $($rest:tt)*
    ) => {
        #[tonic::async_trait]
        impl $service for $api {
            $(
            async fn $method(
                &self,
                $request: tonic::Request<pb::$req>,
            ) -> Result<tonic::Response<pb::$resp>, tonic::Status> {
                let $store = &self.store;
                let answer: Result<pb::$resp, tonic::Status> = $body;
                answer.map(tonic::Response::new)
            }
            )*

            $($rest)*
        }
    };
}
pub(crate) use resource_service;

/// The fields of a Delete request.
pub(crate) struct DeleteFields<'a> {
    pub name: &'a str,
    pub etag: &'a str,
    pub force: bool,
    pub allow_missing: bool,
    pub validate_only: bool,
}

/// Delete: soft-deletes `name` (an empty answer when it is missing and `allow_missing`).
pub(crate) async fn delete<R: Deletable, T>(
    store: &Store,
    request: &Request<T>,
    r: DeleteFields<'_>,
) -> Result<R::Proto, Status>
where
    R::Proto: Default,
{
    let id = R::KIND.collection.parse_name("name", r.name)?;
    let ctx = super::write_ctx(request, None, r.validate_only);
    match R::delete(store, &id, r.etag, r.force, r.allow_missing, &ctx).await? {
        Some(deleted) => Ok(store.completed(deleted).await?.to_proto()),
        None => Ok(R::Proto::default()),
    }
}

/// Undelete: restores the soft-deleted `name`.
pub(crate) async fn undelete<R: Deletable, T>(
    store: &Store,
    request: &Request<T>,
    name: &str,
    etag: &str,
    validate_only: bool,
) -> Result<R::Proto, Status> {
    let id = R::KIND.collection.parse_name("name", name)?;
    let ctx = super::write_ctx(request, None, validate_only);
    let restored = R::undelete(store, &id, etag, &ctx).await?;
    Ok(store.completed(restored).await?.to_proto())
}

/// Get: the resource `name`, live or soft-deleted (through the read cache, as `mode`
/// allows), or as it was at `read_time`.
pub(crate) async fn get<R: ApiResource>(
    store: &Store,
    name: &str,
    read_time: Option<&prost_types::Timestamp>,
    mode: ReadMode,
) -> Result<R::Proto, Status> {
    let c = R::KIND.collection;
    let (id, read_time) = super::get_target(c, name, read_time)?;
    match read_time {
        None => {
            // The cache holds resources without their detail (it depends on trade data,
            // which the change feed does not carry): added to a copy when there is any.
            let item = store.get_cached::<R>(&id, mode).await?;
            if !item.has_detail() {
                return Ok(item.to_proto());
            }
            let mut item = (*item).clone();
            R::detail(store, &mut item).await?;
            Ok(item.to_proto())
        }
        Some(t) => Ok(store
            .get_at::<R>(&id, t)
            .await?
            .ok_or_else(|| super::not_found_at(c, &id))?
            .to_proto()),
    }
}

/// A message already encoded: the answer of a Get or BatchGet built from the encoded
/// answers the read cache keeps with its values ([`Encoding`]), so a cache hit is neither
/// converted nor encoded again. Its bytes are exactly the encoding of the proto message it
/// stands for; it is only ever encoded (answers), never decoded.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Encoded(pub Bytes);

impl prost::Message for Encoded {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        buf.put_slice(&self.0);
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: prost::encoding::WireType,
        buf: &mut impl bytes::Buf,
        ctx: prost::encoding::DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        prost::encoding::skip_field(wire_type, tag, buf, ctx)
    }

    fn encoded_len(&self) -> usize {
        self.0.len()
    }

    fn clear(&mut self) {
        self.0 = Bytes::new();
    }
}

/// The encoded proto message of `item`: from its cache entry's slot (filled here the first
/// time), or encoded now when it is not cached.
fn encode<R: ApiResource>(item: &R, slot: Option<&Encoding>) -> Bytes
where
    R::Proto: prost::Message,
{
    use prost::Message;
    match slot {
        Some(slot) => slot.get_or_init(|| item.to_proto().encode_to_vec().into()).clone(),
        None => item.to_proto().encode_to_vec().into(),
    }
}

/// [`get`], encoded: the same answer, from the encoded form the read cache keeps when the
/// resource is cached and has no detail.
pub(crate) async fn get_encoded<R: ApiResource>(
    store: &Store,
    name: &str,
    read_time: Option<&prost_types::Timestamp>,
    mode: ReadMode,
) -> Result<Encoded, Status>
where
    R::Proto: prost::Message,
{
    use prost::Message;
    let c = R::KIND.collection;
    let (id, read_time) = super::get_target(c, name, read_time)?;
    let proto = match read_time {
        None => {
            let (item, slot) = store.get_cached_encoded::<R>(&id, mode).await?;
            if !item.has_detail() {
                return Ok(Encoded(encode(&*item, slot.as_ref())));
            }
            // As `get`: the detail is added to a copy, and that answer is not kept.
            let mut item = (*item).clone();
            R::detail(store, &mut item).await?;
            item.to_proto()
        }
        Some(t) => store
            .get_at::<R>(&id, t)
            .await?
            .ok_or_else(|| super::not_found_at(c, &id))?
            .to_proto(),
    };
    Ok(Encoded(proto.encode_to_vec().into()))
}

/// [`batch_get`], encoded as the BatchGet response whose repeated field `field` (its
/// number) holds the resources: each resource's encoded answer as the read cache keeps it.
pub(crate) async fn batch_get_encoded<R: ApiResource>(
    store: &Store,
    names: &[String],
    allow_missing: bool,
    mode: ReadMode,
    field: u32,
) -> Result<Encoded, Status>
where
    R::Proto: prost::Message,
{
    use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint, key_len};
    let ids = super::batch_ids(R::KIND.collection, names)?;
    let items = store.batch_get_cached_encoded::<R>(&ids, allow_missing, mode).await?;
    let parts: Vec<Bytes> = items
        .iter()
        .map(|(item, slot)| encode(&**item, slot.as_ref()))
        .collect();
    let len = parts
        .iter()
        .map(|p| key_len(field) + encoded_len_varint(p.len() as u64) + p.len())
        .sum();
    let mut buf = BytesMut::with_capacity(len);
    for p in &parts {
        encode_key(field, WireType::LengthDelimited, &mut buf);
        encode_varint(p.len() as u64, &mut buf);
        buf.put_slice(p);
    }
    Ok(Encoded(buf.freeze()))
}

/// One page of a List answer.
pub(crate) struct Listed<P> {
    pub items: Vec<P>,
    pub next_page_token: String,
    pub total_size: i32,
}

/// List: one page of the resources that match the request's filter, in its order.
pub(crate) async fn list<R: ApiResource>(store: &Store, fields: ListFields<'_>) -> Result<Listed<R::Proto>, Status> {
    let query = super::list_query(R::KIND.collection.prefix(), R::KIND.fields, fields)?;
    let page = store.list::<R>(&query).await?;
    Ok(Listed {
        items: page.items.iter().map(R::to_proto).collect(),
        next_page_token: page.next_page_token,
        total_size: i32::try_from(page.total_size).unwrap_or(i32::MAX),
    })
}

/// BatchGet: the resources `names`, in order.
pub(crate) async fn batch_get<R: ApiResource>(
    store: &Store,
    names: &[String],
    allow_missing: bool,
    mode: ReadMode,
) -> Result<Vec<R::Proto>, Status> {
    let ids = super::batch_ids(R::KIND.collection, names)?;
    let items = store.batch_get_cached::<R>(&ids, allow_missing, mode).await?;
    Ok(items.iter().map(|r| r.to_proto()).collect())
}

#[cfg(test)]
mod tests {
    use registry_proto::annotations::{FieldBehavior, field_behaviors};

    use super::*;
    use crate::domain::list::Write;

    /// The resource descriptions agree with the protos' `google.api.field_behavior`
    /// annotations: every field of the message is described, and described as written the
    /// way the proto says.
    fn check<R: Resource>(message: &str) {
        let proto = field_behaviors(message);
        assert!(!proto.is_empty(), "{message} is not in the descriptor set");
        let fields = R::KIND.fields;
        for (name, behaviors) in proto {
            let def = fields
                .iter()
                .find(|f| f.name == name && f.write != Write::None)
                .unwrap_or_else(|| panic!("{message}.{name} has no description"));
            let has = |b: FieldBehavior| behaviors.contains(&b);
            let expected_ok = match def.write {
                Write::Input => {
                    !has(FieldBehavior::OutputOnly) && !has(FieldBehavior::Identifier) && !has(FieldBehavior::Immutable)
                }
                Write::Immutable => has(FieldBehavior::Immutable),
                Write::OutputOnly => has(FieldBehavior::OutputOnly) || has(FieldBehavior::Identifier) || name == "etag",
                Write::Custom(_) => has(FieldBehavior::OutputOnly) || has(FieldBehavior::Immutable),
                Write::None => false,
            };
            assert!(
                expected_ok,
                "{message}.{name}: described {:?}, annotated {behaviors:?}",
                def.write
            );
        }
        for def in fields.iter().filter(|f| f.write != Write::None) {
            assert!(
                proto.iter().any(|(n, _)| n == def.name),
                "{message} has no field {} (described as {:?})",
                def.name,
                def.write
            );
        }
    }

    #[test]
    fn descriptions_match_the_proto_annotations() {
        check::<PolicyGoal>("motie.registry.v1.PolicyGoal");
        check::<TradePartner>("motie.registry.v1.TradePartner");
        check::<crate::domain::product_set::ProductSet>("motie.registry.v1.ProductSet");
        check::<TradeAgreement>("motie.registry.v1.TradeAgreement");
        check::<RiskEntry>("motie.registry.v1.RiskEntry");
        check::<crate::domain::check_in::CheckIn>("motie.registry.v1.CheckIn");
    }
}
