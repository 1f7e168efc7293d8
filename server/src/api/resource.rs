//! The generic Get, List and BatchGet of every top-level resource: request checks, the store's
//! generic paths, and the proto answer. A service method of a resource is one call here.

use std::future::Future;

use registry_proto::v1 as pb;
use tonic::{Request, Status};

use super::ListFields;
use crate::{
    domain::{Error, Id, goal::PolicyGoal, partner::TradePartner},
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
    }
}
