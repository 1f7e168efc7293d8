//! The check-in methods of `motie.registry.v1.PolicyGoalService`: Create, Get, List and
//! BatchGet of `policyGoals/{goal}/checkIns/{check_in}` (append-only: no Update, no Delete).
//! Reads are the resource layer's, scoped to the goal of the request.

use registry_proto::annotations::normalize_text;
use registry_proto::v1 as pb;
use time::OffsetDateTime;
use tonic::{Request, Status};

use super::{ListFields, all, from_timestamp, write_ctx};
use crate::{
    domain::{
        Collection, Id, Violations,
        check_in::{self, CheckInSpec},
        list::MAX_PAGE_SIZE,
    },
    store::Store,
};

/// A `read_time`, checked: not in the future.
fn read_time(v: &mut Violations, t: Option<&prost_types::Timestamp>) -> Option<OffsetDateTime> {
    let t = t.and_then(|t| all(v, from_timestamp("read_time", t)))?;
    if t > OffsetDateTime::now_utc() {
        v.add("read_time", "must not be in the future");
    }
    Some(t)
}

pub(crate) async fn create(
    store: &Store,
    mut request: Request<pb::CreateCheckInRequest>,
) -> Result<pb::CheckIn, Status> {
    normalize_text("CreateCheckInRequest", request.get_mut());
    let r = request.get_ref();
    let mut v = Violations::new();
    let goal = all(&mut v, Collection::PolicyGoals.parse_name("parent", &r.parent));
    let id = if r.check_in_id.is_empty() {
        Some(None)
    } else {
        all(&mut v, Id::parse("check_in_id", &r.check_in_id)).map(Some)
    };
    let request_id = all(&mut v, crate::domain::request_id(&r.request_id));
    let spec = match &r.check_in {
        Some(c) => all(
            &mut v,
            CheckInSpec::from_proto("check_in", c, OffsetDateTime::now_utc()),
        ),
        None => {
            v.add("check_in", "is required");
            None
        }
    };
    let (goal, id, spec) = v.values((goal, id, spec))?;
    let ctx = write_ctx(&request, request_id.flatten(), r.validate_only);
    Ok(store.create_check_in(&goal, id, spec, &ctx).await?.to_proto())
}

pub(crate) async fn get(store: &Store, request: Request<pb::GetCheckInRequest>) -> Result<pb::CheckIn, Status> {
    let r = request.get_ref();
    let mut v = Violations::new();
    let name = all(&mut v, check_in::parse_name("name", &r.name));
    let at = read_time(&mut v, r.read_time.as_ref());
    let (goal, id) = v.values(name)?;
    Ok(store.get_check_in(&goal, &id, at).await?.to_proto())
}

pub(crate) async fn list(
    store: &Store,
    request: Request<pb::ListCheckInsRequest>,
) -> Result<pb::ListCheckInsResponse, Status> {
    let r = request.get_ref();
    let mut v = Violations::new();
    let goal = all(&mut v, check_in::parse_parent("parent", &r.parent));
    let at = read_time(&mut v, r.read_time.as_ref());
    let order_by = if r.order_by.trim().is_empty() {
        check_in::DEFAULT_ORDER
    } else {
        &r.order_by
    };
    // The page token is bound to the parent and the read time too.
    let at_text = r
        .read_time
        .as_ref()
        .map(|t| format!("{}.{}", t.seconds, t.nanos))
        .unwrap_or_default();
    let scope = format!("{} {} {at_text}", Collection::CheckIns.prefix(), r.parent);
    let fields = ListFields {
        page_size: r.page_size,
        page_token: &r.page_token,
        filter: &r.filter,
        order_by,
        show_deleted: false,
    };
    let query = all(&mut v, super::list_query(&scope, check_in::FIELDS, fields));
    let (goal, query) = v.values((goal, query))?;
    let page = store.list_check_ins(goal.as_ref(), at, query).await?;
    Ok(pb::ListCheckInsResponse {
        check_ins: page.items.iter().map(|c| c.to_proto()).collect(),
        next_page_token: page.next_page_token,
        total_size: i32::try_from(page.total_size).unwrap_or(i32::MAX),
    })
}

pub(crate) async fn batch_get(
    store: &Store,
    request: Request<pb::BatchGetCheckInsRequest>,
) -> Result<pb::BatchGetCheckInsResponse, Status> {
    let r = request.get_ref();
    let mut v = Violations::new();
    let parent = all(&mut v, check_in::parse_parent("parent", &r.parent));
    if r.names.is_empty() || r.names.len() > MAX_PAGE_SIZE {
        v.add("names", format!("must have 1 to {MAX_PAGE_SIZE} names"));
    }
    let mut wanted = Vec::with_capacity(r.names.len());
    for (i, n) in r.names.iter().enumerate() {
        let field = format!("names[{i}]");
        let Some((goal, id)) = all(&mut v, check_in::parse_name(&field, n)) else {
            continue;
        };
        if let Some(Some(p)) = &parent
            && *p != goal
        {
            v.add(field, format!("is not a check-in of {}", r.parent));
        }
        wanted.push((goal, id));
    }
    v.finish(|| ())?;
    let found = store.batch_get_check_ins(&wanted, r.allow_missing).await?;
    Ok(pb::BatchGetCheckInsResponse {
        check_ins: found.iter().map(|c| c.to_proto()).collect(),
    })
}
