//! Trade partners, their members, goal links and trade flows in PostgreSQL.
//!
//! Integrity under concurrent writers comes from row locks plus foreign keys: a write that
//! references partners (a goal's `linked_partners`, a group's `members`) locks them `FOR
//! SHARE` and checks they are live; deleting a partner locks it `FOR UPDATE` and checks who
//! references it. Whichever commits first, the other sees it.

use std::collections::{BTreeMap, HashMap};

use sqlx::{Postgres, QueryBuilder, Transaction, types::Json};
use time::OffsetDateTime;

use super::{
    Change, ChangeKind, Store, WriteCtx, append_changes, db_error,
    page::Key,
    resource::{Columns, Kind, Meta, Resource, Writable, read},
};
use crate::domain::{
    Collection, Error, Id, Reason,
    enums::{PartnerKind, Priority},
    list::{KeyType, SortValue},
    partner::{self, Engagement, FlowSpec, PartnerExports, PartnerSpec, TradeFlow, TradePartner},
};

const PARTNERS: Collection = Collection::TradePartners;
const GOALS: Collection = Collection::PolicyGoals;
/// Resource type of trade flows in the change log.
pub const FLOW_TYPE: &str = "motie.registry.v1.TradeFlow";

/// Every partner read: the row plus its members, live memberships and live linking goals.
const SELECT_PARTNER: &str = "SELECT trade_partners.*,
    ARRAY(SELECT m.member_id FROM partner_members m WHERE m.group_id = trade_partners.id ORDER BY m.position) AS members,
    ARRAY(SELECT m.group_id FROM partner_members m JOIN trade_partners g ON g.id = m.group_id
          WHERE m.member_id = trade_partners.id AND g.delete_time IS NULL ORDER BY m.group_id) AS memberships,
    ARRAY(SELECT l.goal_id FROM goal_partner_links l JOIN policy_goals g ON g.id = l.goal_id
          WHERE l.partner_id = trade_partners.id AND g.delete_time IS NULL ORDER BY l.goal_id) AS linked_goals,
    ARRAY(SELECT a.id FROM agreements a
          WHERE (trade_partners.id = 'kr' OR a.parties @> ARRAY[trade_partners.id]) AND a.delete_time IS NULL
          ORDER BY a.id) AS trade_agreements,
    ARRAY(SELECT r.id FROM risks r WHERE trade_partners.id = ANY(r.partners) AND r.delete_time IS NULL
          ORDER BY r.id) AS risk_register
  FROM trade_partners";

#[derive(sqlx::FromRow)]
pub struct PartnerRow {
    #[sqlx(flatten)]
    stamps: super::resource::StampRow,
    kind: String,
    display_name: String,
    display_name_ko: String,
    description_ko: String,
    region: String,
    priority: Option<String>,
    engagements: Json<Vec<Engagement>>,
    risks: Json<Vec<crate::domain::goal::Risk>>,
    source: String,
    labels: Json<BTreeMap<String, String>>,
    members: Vec<String>,
    memberships: Vec<String>,
    linked_goals: Vec<String>,
    trade_agreements: Vec<String>,
    risk_register: Vec<String>,
}

impl TryFrom<PartnerRow> for TradePartner {
    type Error = Error;
    fn try_from(r: PartnerRow) -> Result<Self, Error> {
        let (id, stamps, c) = r.stamps.read("partner")?;
        Ok(TradePartner {
            spec: PartnerSpec {
                kind: c.value(&r.kind, PartnerKind::parse, "kind")?,
                display_name: r.display_name,
                display_name_ko: r.display_name_ko,
                description_ko: r.description_ko,
                region: r.region,
                members: c.ids(r.members, "member")?,
                priority: c.optional(r.priority.as_deref(), Priority::parse, "priority")?,
                engagements: r.engagements.0,
                risks: r.risks.0,
                source: r.source,
                labels: r.labels.0,
            },
            memberships: c.ids(r.memberships, "membership")?,
            linked_goals: c.ids(r.linked_goals, "linked goal")?,
            trade_agreements: c.ids(r.trade_agreements, "agreement")?,
            risk_register: c.ids(r.risk_register, "linking risk")?,
            dependent_products: Vec::new(),
            stamps,
            id,
        })
    }
}

use super::resource::snapshot;

fn not_found(id: &Id) -> Error {
    super::resource::not_found::<TradePartner>(id)
}

impl Resource for TradePartner {
    const KIND: Kind = Kind {
        collection: PARTNERS,
        fields: partner::FIELDS,
        select: SELECT_PARTNER,
        table: "trade_partners",
        id: "trade_partners.id",
        lock_then_read: true,
    };
    /// Its members and memberships, the goals, agreements and risks that link it.
    const DEPENDS: super::cache::Depends = super::cache::Depends::On(&[
        Collection::TradePartners.resource_type(),
        Collection::PolicyGoals.resource_type(),
        Collection::Agreements.resource_type(),
        Collection::Risks.resource_type(),
    ]);
    type Row = PartnerRow;

    super::resource::stored_fields!();

    /// The dependent products behind the partner's risks.
    async fn detail(store: &Store, partner: &mut Self) -> Result<(), Error> {
        partner.dependent_products = store.partner_dependents(partner).await?;
        Ok(())
    }

    /// Risks that may link product sets.
    fn has_detail(&self) -> bool {
        self.stamps.delete_time.is_none() && !self.risk_register.is_empty()
    }
}

fn flow_not_found(id: &Id, year: i32) -> Error {
    Error::NotFound {
        resource_type: FLOW_TYPE,
        name: partner::flow_name(id, year),
    }
}

/// One page of trade flows.
#[derive(Debug, Clone)]
pub struct FlowPage {
    pub flows: Vec<TradeFlow>,
    pub next_page_token: String,
}

/// What the concentration analysis reads for one year.
#[derive(Debug, Clone)]
pub struct YearExports {
    /// Live countries with a flow that year.
    pub countries: Vec<PartnerExports>,
    /// Live blocs, forums and groups with members: (id, display name, member ids).
    pub groups: Vec<(Id, String, Vec<Id>)>,
    /// Live non-country partners with a flow recorded directly that year.
    pub excluded: Vec<Id>,
}

/// Locks the resources `wanted` of collection `c` (`FOR SHARE`) and checks that each exists
/// and is live (FAILED_PRECONDITION `{PARTNER|GOAL}_NOT_FOUND` / `…_DELETED`, naming the
/// request `field`). Returns each one's kind (partners; empty for goals).
async fn lock_live(
    tx: &mut Transaction<'static, Postgres>,
    c: Collection,
    wanted: &[Id],
    field: &str,
) -> Result<HashMap<Id, String>, Error> {
    lock_live_lists(tx, c, &[wanted], field, |_, e| e).await
}

/// [`lock_live`] for several lists at once (the references of each resource a batch writes),
/// in one query: the first list, in order, that names a missing or deleted resource is refused,
/// its error passed through `at(index of the list, error)`.
pub(super) async fn lock_live_lists(
    tx: &mut Transaction<'static, Postgres>,
    c: Collection,
    lists: &[&[Id]],
    field: &str,
    at: impl Fn(usize, Error) -> Error,
) -> Result<HashMap<Id, String>, Error> {
    let mut keys: Vec<&str> = lists.iter().flat_map(|l| l.iter().map(Id::as_str)).collect();
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    keys.sort_unstable();
    keys.dedup();
    let (sql, missing, deleted) = match c {
        Collection::TradePartners => (
            "SELECT id, kind, delete_time FROM trade_partners WHERE id = ANY($1) ORDER BY id FOR SHARE",
            Reason::PartnerNotFound,
            Reason::PartnerDeleted,
        ),
        Collection::Risks | Collection::CheckIns => {
            return Err(Error::Internal(format!(
                "{} are not referenced by other resources",
                c.prefix()
            )));
        }
        Collection::PolicyGoals => (
            "SELECT id, '' AS kind, delete_time FROM policy_goals WHERE id = ANY($1) ORDER BY id FOR SHARE",
            Reason::GoalNotFound,
            Reason::GoalDeleted,
        ),
        Collection::Agreements => (
            "SELECT id, '' AS kind, delete_time FROM agreements WHERE id = ANY($1) ORDER BY id FOR SHARE",
            Reason::AgreementNotFound,
            Reason::AgreementDeleted,
        ),
        Collection::ProductSets => (
            "SELECT id, '' AS kind, delete_time FROM product_sets WHERE id = ANY($1) ORDER BY id FOR SHARE",
            Reason::ProductSetNotFound,
            Reason::ProductSetDeleted,
        ),
    };
    let rows: Vec<(String, String, Option<OffsetDateTime>)> = sqlx::query_as(sql)
        .bind(&keys)
        .fetch_all(&mut **tx)
        .await
        .map_err(db_error)?;
    let found: HashMap<String, (String, bool)> = rows.into_iter().map(|(id, k, d)| (id, (k, d.is_some()))).collect();
    let mut kinds = HashMap::new();
    for (i, wanted) in lists.iter().enumerate() {
        for id in *wanted {
            let refused = |reason: Reason, state: &str| {
                at(
                    i,
                    Error::failed_precondition(reason, format!("{field}: {} {state}", c.name(id)), Some(c.name(id))),
                )
            };
            match found.get(id.as_str()) {
                None => return Err(refused(missing, "does not exist")),
                Some((_, true)) => return Err(refused(deleted, "is deleted")),
                Some((kind, false)) => {
                    kinds.insert(id.clone(), kind.clone());
                }
            }
        }
    }
    Ok(kinds)
}

/// Locks the partners `wanted` and checks they are live (see [`lock_live`]); their kinds.
pub(super) async fn lock_live_partners(
    tx: &mut Transaction<'static, Postgres>,
    wanted: &[Id],
    field: &str,
) -> Result<HashMap<Id, PartnerKind>, Error> {
    lock_live(tx, PARTNERS, wanted, field)
        .await?
        .into_iter()
        .map(|(id, kind)| {
            let kind = Columns::new("partner", id.as_str()).value(&kind, PartnerKind::parse, "kind")?;
            Ok((id, kind))
        })
        .collect()
}

/// Locks the goals `wanted` and checks they are live (see [`lock_live`]).
pub(super) async fn lock_live_goals(
    tx: &mut Transaction<'static, Postgres>,
    wanted: &[Id],
    field: &str,
) -> Result<(), Error> {
    lock_live(tx, GOALS, wanted, field).await.map(drop)
}

/// Locks the product sets `wanted` and checks they are live (see [`lock_live`]).
pub(super) async fn lock_live_product_sets(
    tx: &mut Transaction<'static, Postgres>,
    wanted: &[Id],
    field: &str,
) -> Result<(), Error> {
    lock_live(tx, Collection::ProductSets, wanted, field).await.map(drop)
}

/// Replaces the rows of `owner` in a link table: `delete` (`$1` the owner) removes them,
/// `insert` (`$1` the owner, `$2` the ids in order) adds `ids`.
async fn replace_rows(
    tx: &mut Transaction<'static, Postgres>,
    delete: &'static str,
    insert: &'static str,
    owner: &Id,
    ids: &[Id],
) -> Result<(), Error> {
    sqlx::query(delete)
        .bind(owner.as_str())
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
    if !ids.is_empty() {
        let keys: Vec<&str> = ids.iter().map(Id::as_str).collect();
        sqlx::query(insert)
            .bind(owner.as_str())
            .bind(&keys)
            .execute(&mut **tx)
            .await
            .map_err(db_error)?;
    }
    Ok(())
}

/// Replaces the goal ↔ partner link rows of a goal.
pub(super) async fn set_goal_links(
    tx: &mut Transaction<'static, Postgres>,
    goal: &Id,
    partners: &[Id],
) -> Result<(), Error> {
    replace_rows(
        tx,
        "DELETE FROM goal_partner_links WHERE goal_id = $1",
        "INSERT INTO goal_partner_links (goal_id, partner_id) SELECT $1, unnest($2::text[])",
        goal,
        partners,
    )
    .await
}

/// Checks what a partner spec references: members (live countries, not the partner itself)
/// and the goals its engagements serve (live).
async fn check_references(
    tx: &mut Transaction<'static, Postgres>,
    id: &Id,
    spec: &PartnerSpec,
    prefix: &str,
) -> Result<(), Error> {
    if spec.members.contains(id) {
        return Err(Error::invalid(
            format!("{prefix}.members"),
            "a partner cannot be a member of itself",
        ));
    }
    let kinds = lock_live_partners(tx, &spec.members, &format!("{prefix}.members")).await?;
    if let Some((m, k)) = spec
        .members
        .iter()
        .filter_map(|m| kinds.get(m).map(|k| (m, k)))
        .find(|(_, k)| **k != PartnerKind::Country)
    {
        return Err(Error::failed_precondition(
            Reason::MemberNotACountry,
            format!(
                "{prefix}.members: {} is a {k}; members of blocs, forums and groups are countries",
                PARTNERS.name(m)
            ),
            Some(PARTNERS.name(m)),
        ));
    }
    let goals: Vec<Id> = {
        let mut g: Vec<Id> = spec.engagements.iter().flat_map(|e| e.linked_goals.clone()).collect();
        g.sort();
        g.dedup();
        g
    };
    lock_live(tx, GOALS, &goals, &format!("{prefix}.engagements.linked_goals")).await?;
    let mut agreements: Vec<Id> = spec.engagements.iter().filter_map(|e| e.agreement.clone()).collect();
    agreements.sort();
    agreements.dedup();
    lock_live(
        tx,
        Collection::Agreements,
        &agreements,
        &format!("{prefix}.engagements.agreement"),
    )
    .await
    .map(|_| ())
}

/// Removes the agreement `id` from the engagements of every live partner (a forced agreement
/// delete); returns the change records of the partners that changed.
pub(super) async fn unlink_agreement_from_engagements<'a>(
    tx: &mut Transaction<'static, Postgres>,
    id: &Id,
    ctx: &'a WriteCtx,
) -> Result<Vec<Change<'a>>, Error> {
    let changed: Vec<String> = sqlx::query_scalar(
        "UPDATE trade_partners t SET engagements = (
             SELECT coalesce(jsonb_agg(CASE WHEN e->>'agreement' = $1 THEN e - 'agreement' ELSE e END ORDER BY eo),
                             '[]'::jsonb)
             FROM jsonb_array_elements(t.engagements) WITH ORDINALITY AS en(e, eo)),
           update_time = now(), revision = revision + 1
         WHERE t.delete_time IS NULL AND EXISTS (
             SELECT 1 FROM jsonb_array_elements(t.engagements) e WHERE e->>'agreement' = $1)
         RETURNING t.id",
    )
    .bind(id.as_str())
    .fetch_all(&mut **tx)
    .await
    .map_err(db_error)?;
    engagements_changed(tx, changed, ctx).await
}

/// The changes of the partners (by id) whose engagements an UPDATE changed.
async fn engagements_changed<'a>(
    tx: &mut Transaction<'static, Postgres>,
    changed: Vec<String>,
    ctx: &'a WriteCtx,
) -> Result<Vec<Change<'a>>, Error> {
    let mut changes = Vec::with_capacity(changed.len());
    for id in changed {
        let id = Id::try_from(id).map_err(|_| Error::Internal("stored partner id is invalid".into()))?;
        if let Some(partner) = read::<TradePartner>(tx, &id).await? {
            changes.push(partner.change(ChangeKind::Updated, vec!["engagements".into()], ctx)?);
        }
    }
    Ok(changes)
}

/// Replaces the member list of a group, in order.
async fn set_members(tx: &mut Transaction<'static, Postgres>, id: &Id, members: &[Id]) -> Result<(), Error> {
    replace_rows(
        tx,
        "DELETE FROM partner_members WHERE group_id = $1",
        "INSERT INTO partner_members (group_id, member_id, position)
         SELECT $1, m, ord::int FROM unnest($2::text[]) WITH ORDINALITY AS t(m, ord)",
        id,
        members,
    )
    .await
}

/// Live partners with an engagement that links one of `goals` (at most 5, by id).
pub(super) async fn partners_engaging_goals(
    tx: &mut Transaction<'static, Postgres>,
    goals: &[&str],
) -> Result<Vec<String>, Error> {
    sqlx::query_scalar(
        "SELECT t.id FROM trade_partners t
         WHERE t.delete_time IS NULL AND EXISTS (
             SELECT 1 FROM jsonb_array_elements(t.engagements) e, jsonb_array_elements_text(e->'linked_goals') g
             WHERE g = ANY($1))
         ORDER BY t.id LIMIT 5",
    )
    .bind(goals)
    .fetch_all(&mut **tx)
    .await
    .map_err(db_error)
}

/// Removes `goals` from the engagements of every live partner (a forced goal delete); returns
/// the change records of the partners that changed.
pub(super) async fn unlink_goals_from_engagements<'a>(
    tx: &mut Transaction<'static, Postgres>,
    goals: &[&str],
    ctx: &'a WriteCtx,
) -> Result<Vec<Change<'a>>, Error> {
    let changed: Vec<String> = sqlx::query_scalar(
        "UPDATE trade_partners t SET engagements = (
             SELECT coalesce(jsonb_agg(
                 CASE WHEN jsonb_typeof(e->'linked_goals') = 'array' THEN jsonb_set(e, '{linked_goals}', coalesce(
                     (SELECT jsonb_agg(x ORDER BY o) FROM jsonb_array_elements(e->'linked_goals') WITH ORDINALITY AS a(x, o)
                      WHERE NOT (x #>> '{}' = ANY($1))), '[]'::jsonb))
                 ELSE e END ORDER BY eo), '[]'::jsonb)
             FROM jsonb_array_elements(t.engagements) WITH ORDINALITY AS en(e, eo)),
           update_time = now(), revision = revision + 1
         WHERE t.delete_time IS NULL AND EXISTS (
             SELECT 1 FROM jsonb_array_elements(t.engagements) e, jsonb_array_elements_text(e->'linked_goals') g
             WHERE g = ANY($1))
         RETURNING t.id",
    )
    .bind(goals)
    .fetch_all(&mut **tx)
    .await
    .map_err(db_error)?;
    engagements_changed(tx, changed, ctx).await
}

impl Writable for TradePartner {
    const CREATE: &'static str = "CreateTradePartner";
    const FIELD: &'static str = "trade_partner";

    super::resource::writable_columns!(spec: PartnerSpec {
        display_name,
        display_name_ko,
        region,
        priority: spec.priority.map(Priority::as_str),
        engagements: Json(&spec.engagements),
        risks: Json(&spec.risks),
        source,
        labels: Json(&spec.labels),
        description_ko,
        kind: spec.kind.as_str(),
    });

    /// Its members and what its engagements name.
    async fn check_links(
        tx: &mut Transaction<'static, Postgres>,
        id: &Id,
        spec: &PartnerSpec,
        current: Option<&Self>,
    ) -> Result<(), Error> {
        if current.is_some_and(|c| c.spec.members == spec.members && c.spec.engagements == spec.engagements) {
            return Ok(());
        }
        check_references(tx, id, spec, "trade_partner").await
    }

    /// Its member list.
    async fn write_beside(
        tx: &mut Transaction<'static, Postgres>,
        id: &Id,
        spec: &PartnerSpec,
        current: Option<&Self>,
    ) -> Result<(), Error> {
        if current.is_some_and(|c| c.spec.members == spec.members) {
            return Ok(());
        }
        set_members(tx, id, &spec.members).await
    }

    /// Live goals linking the partner, live groups listing it as a member and live
    /// agreements naming it as a party make a delete FAILED_PRECONDITION, unless `force`,
    /// which removes those links and memberships (each changed goal and group gets a new
    /// revision in the change log); agreements keep naming it.
    async fn release<'a, 'c>(
        store: &'a Store,
        tx: &'a mut Transaction<'static, Postgres>,
        current: &'a Self,
        force: bool,
        ctx: &'c WriteCtx,
    ) -> Result<Vec<Change<'c>>, Error> {
        let id = &current.id;
        let refusals = [
            (
                &current.linked_goals,
                GOALS,
                Reason::LinkedByGoals,
                "is linked by live goals",
                "unlink them first",
            ),
            (
                &current.memberships,
                PARTNERS,
                Reason::MemberOfGroups,
                "is a member of live partners",
                "remove it from their members first",
            ),
            // With force the agreements keep naming it: they were made with that partner.
            (
                &current.trade_agreements,
                Collection::Agreements,
                Reason::PartyToAgreements,
                "is party to live agreements",
                "delete them or take it out of their parties first",
            ),
        ];
        for (ids, c, reason, what, fix) in refusals.into_iter().chain([(
            &current.risk_register,
            Collection::Risks,
            Reason::LinkedByRisks,
            "is linked by live risks",
            "unlink it from them first",
        )]) {
            if !force {
                super::refuse_linked(current.name(), reason, what, c, ids.iter().map(Id::as_str), fix)?;
            }
        }
        let mut changes = Vec::new();
        if force {
            changes.extend(store.unlink_partner_from_goals(tx, id, ctx).await?);
            changes
                .extend(super::risks::unlink_from_risks(tx, super::risks::Link::Partners, &[id.as_str()], ctx).await?);
            for group in &current.memberships {
                sqlx::query("DELETE FROM partner_members WHERE group_id = $1 AND member_id = $2")
                    .bind(group.as_str())
                    .bind(id.as_str())
                    .execute(&mut **tx)
                    .await
                    .map_err(db_error)?;
                sqlx::query("UPDATE trade_partners SET update_time = now(), revision = revision + 1 WHERE id = $1")
                    .bind(group.as_str())
                    .execute(&mut **tx)
                    .await
                    .map_err(db_error)?;
                if let Some(g) = read::<TradePartner>(tx, group).await? {
                    changes.push(g.change(ChangeKind::Updated, vec!["members".into()], ctx)?);
                }
            }
        }
        Ok(changes)
    }

    /// Its members must still be live.
    async fn relink(tx: &mut Transaction<'static, Postgres>, current: &Self) -> Result<(), Error> {
        lock_live_partners(tx, &current.spec.members, "members")
            .await
            .map(|_| ())
    }
}

impl Store {
    /// Creates a partner. With a request id, a retry returns the original partner.
    pub async fn create_partner(&self, id: &Id, spec: PartnerSpec, ctx: &WriteCtx) -> Result<TradePartner, Error> {
        self.create_resource(id, spec, ctx).await
    }

    /// Purges soft-deleted partners past their expire time that nothing references any more
    /// (their trade flows and member lists go with them).
    pub(super) async fn purge_expired_partners(&self) -> Result<u64, Error> {
        self.purge_in_batches(
            "DELETE FROM trade_partners t WHERE t.id IN (
                SELECT id FROM trade_partners p WHERE p.expire_time < now()
                  AND NOT EXISTS (SELECT 1 FROM partner_members m WHERE m.member_id = p.id)
                  AND NOT EXISTS (SELECT 1 FROM goal_partner_links l WHERE l.partner_id = p.id)
                  AND NOT EXISTS (SELECT 1 FROM agreements a WHERE a.parties @> ARRAY[p.id])
                LIMIT 500 FOR UPDATE SKIP LOCKED)
             RETURNING t.id",
            PARTNERS,
        )
        .await
    }

    // ---- trade flows ----

    /// Gets the flow of `partner` in `year`.
    pub async fn get_flow(&self, partner: &Id, year: i32) -> Result<TradeFlow, Error> {
        let row: Option<FlowRow> = sqlx::query_as("SELECT * FROM trade_flows WHERE partner_id = $1 AND year = $2")
            .bind(partner.as_str())
            .bind(year)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.map(TradeFlow::try_from)
            .transpose()?
            .ok_or_else(|| flow_not_found(partner, year))
    }

    /// Lists flows ordered by partner and year, of one partner or all, of one year or all.
    pub async fn list_flows(
        &self,
        partner: Option<&Id>,
        year: Option<i32>,
        page_size: usize,
        page_token: &str,
        fingerprint: &str,
    ) -> Result<FlowPage, Error> {
        if let Some(p) = partner {
            let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM trade_partners WHERE id = $1)")
                .bind(p.as_str())
                .fetch_one(&self.pool)
                .await
                .map_err(db_error)?;
            if !exists {
                return Err(not_found(p));
            }
        }
        const KEYS: [Key; 2] = [Key::asc("partner_id", KeyType::Text), Key::asc("year", KeyType::Int)];
        let pager = self.pager(fingerprint, page_token, KEYS.to_vec(), page_size)?;
        let mut qb = QueryBuilder::<Postgres>::new("SELECT * FROM trade_flows WHERE TRUE");
        if let Some(p) = partner {
            qb.push(" AND partner_id = ").push_bind(p.as_str().to_owned());
        }
        if let Some(y) = year {
            qb.push(" AND year = ").push_bind(y);
        }
        let (flows, next_page_token) = pager
            .page::<FlowRow, TradeFlow>(qb, |f| {
                vec![
                    SortValue::Text(f.partner.as_str().to_owned()),
                    SortValue::Int(i64::from(f.year)),
                ]
            })
            .await?;
        Ok(FlowPage { flows, next_page_token })
    }

    /// Creates (with `allow_missing`) or replaces the flow of a live partner in a year.
    pub async fn upsert_flow(
        &self,
        partner: &Id,
        year: i32,
        etag: &str,
        spec: FlowSpec,
        allow_missing: bool,
        ctx: &WriteCtx,
    ) -> Result<TradeFlow, Error> {
        let mut tx = self.begin().await?;
        let live: Option<Option<OffsetDateTime>> =
            sqlx::query_scalar("SELECT delete_time FROM trade_partners WHERE id = $1 FOR SHARE")
                .bind(partner.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_error)?;
        match live {
            None => return Err(not_found(partner)),
            Some(Some(_)) => return Err(super::resource_deleted(PARTNERS.name(partner), "is deleted")),
            Some(None) => {}
        }
        let current = lock_flow(&mut tx, partner, year).await?;
        let kind = match &current {
            None if !allow_missing => return Err(flow_not_found(partner, year)),
            None if !etag.is_empty() => return Err(Error::etag_mismatch(&partner::flow_name(partner, year))),
            None => ChangeKind::Created,
            Some(c) => {
                super::check_etag(etag, &c.etag(), || c.name())?;
                if c.spec() == spec {
                    tx.rollback().await.map_err(db_error)?;
                    return Ok(c.clone());
                }
                ChangeKind::Updated
            }
        };
        let row: FlowRow = sqlx::query_as(
            "INSERT INTO trade_flows (partner_id, year, exports_usd, imports_usd, source, estimated, create_time, update_time)
             VALUES ($1, $2, $3, $4, $5, $6, now(), now())
             ON CONFLICT (partner_id, year) DO UPDATE SET exports_usd = EXCLUDED.exports_usd,
                 imports_usd = EXCLUDED.imports_usd, source = EXCLUDED.source, estimated = EXCLUDED.estimated,
                 update_time = now(), revision = trade_flows.revision + 1
             RETURNING *",
        )
        .bind(partner.as_str())
        .bind(year)
        .bind(spec.exports_usd)
        .bind(spec.imports_usd)
        .bind(&spec.source)
        .bind(spec.estimated)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
        let flow = TradeFlow::try_from(row)?;
        let mask = if kind == ChangeKind::Updated {
            vec![
                "exports_usd".into(),
                "imports_usd".into(),
                "source".into(),
                "estimated".into(),
            ]
        } else {
            vec![]
        };
        append_changes(
            &mut tx,
            &[Change {
                resource_type: FLOW_TYPE,
                name: flow.name(),
                kind,
                mask,
                snapshot: Some(snapshot(&flow)?),
                ctx,
            }],
        )
        .await?;
        Self::finish(tx, ctx).await?;
        Ok(flow)
    }

    /// Deletes the flow of a partner in a year (for good; the change log keeps its history).
    pub async fn delete_flow(
        &self,
        partner: &Id,
        year: i32,
        etag: &str,
        allow_missing: bool,
        ctx: &WriteCtx,
    ) -> Result<(), Error> {
        let mut tx = self.begin().await?;
        let Some(current) = lock_flow(&mut tx, partner, year).await? else {
            return if allow_missing {
                Ok(())
            } else {
                Err(flow_not_found(partner, year))
            };
        };
        super::check_etag(etag, &current.etag(), || current.name())?;
        sqlx::query("DELETE FROM trade_flows WHERE partner_id = $1 AND year = $2")
            .bind(partner.as_str())
            .bind(year)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        append_changes(
            &mut tx,
            &[Change {
                resource_type: FLOW_TYPE,
                name: current.name(),
                kind: ChangeKind::Deleted,
                mask: vec![],
                snapshot: Some(snapshot(&current)?),
                ctx,
            }],
        )
        .await?;
        Self::finish(tx, ctx).await
    }

    /// Exports of a year, as the concentration analysis needs them (one consistent snapshot).
    pub async fn year_exports(&self, year: i32) -> Result<YearExports, Error> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        let flows: Vec<(String, String, String, i64)> = sqlx::query_as(
            "SELECT p.id, p.kind, p.display_name, f.exports_usd FROM trade_flows f
               JOIN trade_partners p ON p.id = f.partner_id
             WHERE f.year = $1 AND p.delete_time IS NULL ORDER BY p.id",
        )
        .bind(year)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        let groups: Vec<(String, String, Vec<String>)> = sqlx::query_as(
            "SELECT g.id, g.display_name, array_agg(m.member_id ORDER BY m.position)
               FROM trade_partners g JOIN partner_members m ON m.group_id = g.id
             WHERE g.delete_time IS NULL GROUP BY g.id, g.display_name ORDER BY g.id",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        let id = |s: String| Id::try_from(s.clone()).map_err(|_| Columns::new("partner", &s).corrupt("id"));
        let mut out = YearExports {
            countries: Vec::new(),
            groups: Vec::new(),
            excluded: Vec::new(),
        };
        for (pid, kind, display_name, exports_usd) in flows {
            if kind == PartnerKind::Country.as_str() {
                out.countries.push(PartnerExports {
                    partner: id(pid)?,
                    display_name,
                    exports_usd,
                });
            } else {
                out.excluded.push(id(pid)?);
            }
        }
        for (gid, name, members) in groups {
            out.groups
                .push((id(gid)?, name, members.into_iter().map(id).collect::<Result<_, _>>()?));
        }
        Ok(out)
    }
}

/// Locks the flow of `partner` in `year` (`FOR UPDATE`) and reads it.
async fn lock_flow(
    tx: &mut Transaction<'static, Postgres>,
    partner: &Id,
    year: i32,
) -> Result<Option<TradeFlow>, Error> {
    let row: Option<FlowRow> =
        sqlx::query_as("SELECT * FROM trade_flows WHERE partner_id = $1 AND year = $2 FOR UPDATE")
            .bind(partner.as_str())
            .bind(year)
            .fetch_optional(&mut **tx)
            .await
            .map_err(db_error)?;
    row.map(TradeFlow::try_from).transpose()
}

#[derive(sqlx::FromRow)]
struct FlowRow {
    partner_id: String,
    year: i32,
    exports_usd: i64,
    imports_usd: i64,
    source: String,
    estimated: bool,
    create_time: OffsetDateTime,
    update_time: OffsetDateTime,
    revision: i64,
}

impl TryFrom<FlowRow> for TradeFlow {
    type Error = Error;
    fn try_from(r: FlowRow) -> Result<Self, Error> {
        Ok(TradeFlow {
            partner: Id::try_from(r.partner_id.clone())
                .map_err(|_| Columns::new("partner", &r.partner_id).corrupt("flow partner"))?,
            year: r.year,
            exports_usd: r.exports_usd,
            imports_usd: r.imports_usd,
            source: r.source,
            estimated: r.estimated,
            create_time: r.create_time,
            update_time: r.update_time,
            revision: r.revision,
        })
    }
}
