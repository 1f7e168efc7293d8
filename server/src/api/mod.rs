//! gRPC services: decode the request into domain types, call the store, encode the answer.
//! This is the only layer that sees tonic.

/// Declares a service implementation: a struct holding the store.
macro_rules! service_api {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone)]
        pub struct $name {
            store: $crate::store::Store,
        }

        impl $name {
            pub fn new(store: $crate::store::Store) -> Self {
                $name { store }
            }
        }
    };
}

pub mod admin;
pub mod agreements;
pub mod changes;
mod check_ins;
pub mod convert;
pub mod goals;
pub mod partners;
pub(crate) mod resource;
pub mod risks;
pub mod trade;

use tonic::Request;

use crate::{
    domain::{Actor, Error, Violations},
    store::WriteCtx,
};

/// Builds the write context of a request: the authenticated actor (put into the request
/// extensions by the auth layer; `anonymous` when none), the request id, and validate_only.
pub(crate) fn write_ctx<T>(req: &Request<T>, request_id: Option<String>, validate_only: bool) -> WriteCtx {
    let actor = req
        .extensions()
        .get::<Actor>()
        .cloned()
        .unwrap_or_else(|| Actor { id: "anonymous".into() });
    WriteCtx {
        actor,
        request_id,
        validate_only,
    }
}

/// How the read `req` may be answered (decided by the auth layer from its
/// `registry-min-sequence`; from the cache when nothing was decided).
pub(crate) fn read_mode<T>(req: &Request<T>) -> crate::store::cache::ReadMode {
    req.extensions()
        .get::<crate::store::cache::ReadMode>()
        .copied()
        .unwrap_or_default()
}

/// The name and optional `read_time` of a Get request, both checked (every violation at once;
/// a read time in the future is refused).
pub(crate) fn get_target(
    c: crate::domain::Collection,
    name: &str,
    read_time: Option<&prost_types::Timestamp>,
) -> Result<(crate::domain::Id, Option<time::OffsetDateTime>), Error> {
    let mut v = Violations::new();
    let id = all(&mut v, c.parse_name("name", name));
    let read_time = read_time.and_then(|t| all(&mut v, from_timestamp("read_time", t)));
    if read_time.is_some_and(|t| t > time::OffsetDateTime::now_utc()) {
        v.add("read_time", "must not be in the future");
    }
    match (id, v.is_empty()) {
        (Some(id), true) => Ok((id, read_time)),
        _ => Err(Error::InvalidArgument(v.into_vec())),
    }
}

/// NOT_FOUND for a resource that did not exist at a read time.
pub(crate) fn not_found_at(c: crate::domain::Collection, id: &crate::domain::Id) -> Error {
    Error::NotFound {
        resource_type: c.resource_type(),
        name: c.name(id),
    }
}

/// The [`ListFields`] of a List request message (every standard List has these fields).
macro_rules! list_fields {
    ($r:expr) => {
        $crate::api::ListFields {
            page_size: $r.page_size,
            page_token: &$r.page_token,
            filter: &$r.filter,
            order_by: &$r.order_by,
            show_deleted: $r.show_deleted,
        }
    };
}
pub(crate) use list_fields;

/// The paging fields every List request has.
pub(crate) struct ListFields<'a> {
    pub page_size: i32,
    pub page_token: &'a str,
    pub filter: &'a str,
    pub order_by: &'a str,
    pub show_deleted: bool,
}

/// Validates a List request against a resource's field list; every violation at once. The
/// page token is bound to `kind`, the filter, the order and show_deleted.
pub(crate) fn list_query(
    kind: &str,
    defs: &'static [crate::domain::list::FieldDef],
    r: ListFields<'_>,
) -> Result<crate::store::ListQuery, Error> {
    use crate::domain::{filter, list};
    let mut v = Violations::new();
    let page_size = all(&mut v, list::page_size(r.page_size));
    let order = all(&mut v, list::parse_order_by(defs, r.order_by));
    let filter = all(&mut v, filter::parse(defs, r.filter));
    let (page_size, order, filter) = v.values((page_size, order, filter))?;
    let order_text: Vec<String> = order
        .iter()
        .map(|k| format!("{}{}", k.field, if k.desc { " desc" } else { "" }))
        .collect();
    let fingerprint = list::PageTokens::fingerprint(&[
        kind,
        r.filter.trim(),
        &order_text.join(","),
        if r.show_deleted { "deleted" } else { "live" },
    ]);
    Ok(crate::store::ListQuery {
        order,
        show_deleted: r.show_deleted,
        page_size,
        page_token: r.page_token.to_owned(),
        fingerprint,
        filter,
    })
}

/// The ids of a BatchGet request: 1 to 1000 names of collection `c`, every bad one reported.
pub(crate) fn batch_ids(c: crate::domain::Collection, names: &[String]) -> Result<Vec<crate::domain::Id>, Error> {
    use crate::domain::list::MAX_PAGE_SIZE;
    if names.is_empty() || names.len() > MAX_PAGE_SIZE {
        return Err(Error::invalid("names", format!("must have 1 to {MAX_PAGE_SIZE} names")));
    }
    let mut v = Violations::new();
    let ids = names
        .iter()
        .enumerate()
        .filter_map(|(i, n)| all(&mut v, c.parse_name(&format!("names[{i}]"), n)))
        .collect();
    v.finish(|| ids)
}

/// Update-mask paths as recorded in the change log.
pub(crate) fn mask_names(paths: &[crate::domain::mask::MaskPath]) -> Vec<String> {
    use crate::domain::mask::MaskPath;
    paths
        .iter()
        .map(|p| match p {
            MaskPath::Field(f) => (*f).to_owned(),
            MaskPath::Label(k) => format!("labels.{k}"),
        })
        .collect()
}

/// Runs several independent parses and reports all their violations together.
pub(crate) fn all<T>(v: &mut Violations, r: Result<T, Error>) -> Option<T> {
    v.take(r)
}

pub(crate) use convert::{from_timestamp, timestamp};
