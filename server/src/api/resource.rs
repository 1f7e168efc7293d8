//! The generic Get, List and BatchGet of every top-level resource: request checks, the store's
//! generic paths, and the proto answer. A service method of a resource is one call here.

use std::future::Future;

use registry_proto::v1 as pb;
use tonic::{Request, Status};

use super::ListFields;
use crate::{
    domain::{
        Error, Id, Violations,
        goal::{GoalField, GoalPatch, GoalSpec, PolicyGoal},
        mask,
        partner::{PartnerField, PartnerPatch, PartnerSpec, TradePartner},
    },
    store::{Resource, Store, WriteCtx},
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

impl ApiResource for PolicyGoal {
    type Proto = pb::PolicyGoal;
    fn to_proto(&self) -> pb::PolicyGoal {
        PolicyGoal::to_proto(self)
    }
}

impl Deletable for PolicyGoal {
    fn delete<'a>(
        store: &'a Store,
        id: &'a Id,
        etag: &'a str,
        force: bool,
        allow_missing: bool,
        ctx: &'a WriteCtx,
    ) -> impl Future<Output = Result<Option<Self>, Error>> + Send + 'a {
        store.delete_goal(id, etag, force, allow_missing, ctx)
    }

    fn undelete<'a>(
        store: &'a Store,
        id: &'a Id,
        etag: &'a str,
        ctx: &'a WriteCtx,
    ) -> impl Future<Output = Result<Self, Error>> + Send + 'a {
        store.undelete_goal(id, etag, ctx)
    }
}

impl ApiResource for TradePartner {
    type Proto = pb::TradePartner;
    fn to_proto(&self) -> pb::TradePartner {
        TradePartner::to_proto(self)
    }
}

impl Deletable for TradePartner {
    fn delete<'a>(
        store: &'a Store,
        id: &'a Id,
        etag: &'a str,
        force: bool,
        allow_missing: bool,
        ctx: &'a WriteCtx,
    ) -> impl Future<Output = Result<Option<Self>, Error>> + Send + 'a {
        store.delete_partner(id, etag, force, allow_missing, ctx)
    }

    fn undelete<'a>(
        store: &'a Store,
        id: &'a Id,
        etag: &'a str,
        ctx: &'a WriteCtx,
    ) -> impl Future<Output = Result<Self, Error>> + Send + 'a {
        store.undelete_partner(id, etag, ctx)
    }
}

/// The Update of a resource (AIP-134): the masked fields become a typed patch that the store
/// applies to the stored resource under its row lock; with `allow_missing`, a missing
/// resource is created from the whole message.
pub(crate) trait Updatable: ApiResource {
    /// The resource's proto message.
    type Msg: super::convert::Patchable + Sync;
    type Patch: Send;
    type Spec: Send;
    /// The request field holding the message (`policy_goal`), for violation paths.
    const FIELD: &'static str;

    fn msg_name(msg: &Self::Msg) -> &str;
    fn msg_etag(msg: &Self::Msg) -> &str;
    /// Whether a writable field of the message holds a value (an omitted mask means these).
    fn populated(msg: &Self::Msg, field: &str) -> bool;
    fn patch(fields: Vec<<Self::Msg as super::convert::Patchable>::Field>) -> Self::Patch;
    /// The spec of a resource created by an upsert, `id` checked against it.
    fn create_spec(msg: &Self::Msg, id: &Id) -> Result<Self::Spec, Error>;
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
    let mut v = Violations::new();
    let id = v.take(
        R::KIND
            .collection
            .parse_name(&format!("{}.name", R::FIELD), R::msg_name(msg)),
    );
    let paths = v.take(mask::resolve(
        R::KIND.fields,
        r.update_mask.map(|m| m.paths.as_slice()),
        |f| R::populated(msg, f),
    ));
    let (Some(id), Some(paths), true) = (id, paths, v.is_empty()) else {
        return Err(Error::InvalidArgument(v.into_vec()).into());
    };
    // Checked by the store after the lock, the etag and the deleted state, as AIP-134 orders
    // the errors of an update (NOT_FOUND, ABORTED and FAILED_PRECONDITION come first).
    let patch = super::convert::patch(R::FIELD, msg, &paths).map(R::patch);
    let create = r.allow_missing.then(|| R::create_spec(msg, &id));
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
    Ok(updated.to_proto())
}

impl Updatable for PolicyGoal {
    type Msg = pb::PolicyGoal;
    type Patch = GoalPatch;
    type Spec = GoalSpec;
    const FIELD: &'static str = "policy_goal";

    fn msg_name(msg: &pb::PolicyGoal) -> &str {
        &msg.name
    }

    fn msg_etag(msg: &pb::PolicyGoal) -> &str {
        &msg.etag
    }

    fn populated(msg: &pb::PolicyGoal, field: &str) -> bool {
        super::convert::goal::populated(msg, field)
    }

    fn patch(fields: Vec<GoalField>) -> GoalPatch {
        GoalPatch(fields)
    }

    fn create_spec(msg: &pb::PolicyGoal, _id: &Id) -> Result<GoalSpec, Error> {
        GoalSpec::from_proto(Self::FIELD, msg)
    }

    fn update<'a>(
        store: &'a Store,
        id: &'a Id,
        etag: &'a str,
        mask: Vec<String>,
        patch: Result<GoalPatch, Error>,
        create: Option<Result<GoalSpec, Error>>,
        ctx: &'a WriteCtx,
    ) -> impl Future<Output = Result<Self, Error>> + Send + 'a {
        store.update_goal(id, etag, mask, patch, create, ctx)
    }
}

impl Updatable for TradePartner {
    type Msg = pb::TradePartner;
    type Patch = PartnerPatch;
    type Spec = PartnerSpec;
    const FIELD: &'static str = "trade_partner";

    fn msg_name(msg: &pb::TradePartner) -> &str {
        &msg.name
    }

    fn msg_etag(msg: &pb::TradePartner) -> &str {
        &msg.etag
    }

    fn populated(msg: &pb::TradePartner, field: &str) -> bool {
        super::convert::partner::populated(msg, field)
    }

    fn patch(fields: Vec<PartnerField>) -> PartnerPatch {
        PartnerPatch(fields)
    }

    fn create_spec(msg: &pb::TradePartner, id: &Id) -> Result<PartnerSpec, Error> {
        let spec = PartnerSpec::from_proto(Self::FIELD, msg)?;
        let mut v = Violations::new();
        crate::domain::partner::check_id(&mut v, "trade_partner.name", id, spec.kind);
        v.finish(|| spec)
    }

    fn update<'a>(
        store: &'a Store,
        id: &'a Id,
        etag: &'a str,
        mask: Vec<String>,
        patch: Result<PartnerPatch, Error>,
        create: Option<Result<PartnerSpec, Error>>,
        ctx: &'a WriteCtx,
    ) -> impl Future<Output = Result<Self, Error>> + Send + 'a {
        store.update_partner(id, etag, mask, patch, create, ctx)
    }
}

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
    let deleted = R::delete(store, &id, r.etag, r.force, r.allow_missing, &ctx).await?;
    Ok(deleted.map(|d| d.to_proto()).unwrap_or_default())
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
    Ok(R::undelete(store, &id, etag, &ctx).await?.to_proto())
}

/// Get: the resource `name`, live or soft-deleted, or as it was at `read_time`.
pub(crate) async fn get<R: ApiResource>(
    store: &Store,
    name: &str,
    read_time: Option<&prost_types::Timestamp>,
) -> Result<R::Proto, Status> {
    let c = R::KIND.collection;
    let (id, read_time) = super::get_target(c, name, read_time)?;
    let item = match read_time {
        None => store.get::<R>(&id).await?,
        Some(t) => store
            .get_at::<R>(&id, t)
            .await?
            .ok_or_else(|| super::not_found_at(c, &id))?,
    };
    Ok(item.to_proto())
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
) -> Result<Vec<R::Proto>, Status> {
    let ids = super::batch_ids(R::KIND.collection, names)?;
    let items = store.batch_get::<R>(&ids, allow_missing).await?;
    Ok(items.iter().map(R::to_proto).collect())
}

#[cfg(test)]
mod tests {
    use registry_proto::annotations::{FieldBehavior, field_behaviors};

    use super::*;
    use crate::domain::list::Write;

    /// The resource descriptions agree with the protos' `google.api.field_behavior`
    /// annotations: every field of the message is described, and described as written the
    /// way the proto says.
    fn check<R: ApiResource>(message: &str) {
        let proto = field_behaviors(message);
        assert!(!proto.is_empty(), "{message} is not in the descriptor set");
        let fields = R::KIND.fields;
        for (name, behaviors) in &proto {
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
    }
}
