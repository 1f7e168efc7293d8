//! Policy goals in PostgreSQL.

use std::collections::{BTreeMap, HashMap};

use sqlx::{Postgres, Transaction, types::Json};
use time::OffsetDateTime;

use super::resource::{Begun, Intent, Kind, Meta, Resource, create_instead, lock_for};
use super::{
    Change, ChangeKind, Claim, GOAL_TREE_LOCK, Store, WriteCtx, append_changes_answering, claim_request, db_error,
    lock, refuse_linked, request_hash,
};
use crate::domain::{
    Collection, Error, Id, Reason, Stored,
    check_in::CheckIn,
    enums::{Confidence, GoalState, Outcome, Pillar},
    goal::{FIELDS, GoalPatch, GoalSpec, Milestone, PolicyGoal, Risk, Target},
    list::SortValue,
};

const GOALS: Collection = Collection::PolicyGoals;

#[derive(sqlx::FromRow)]
pub struct GoalRow {
    #[sqlx(flatten)]
    stamps: super::resource::StampRow,
    parent_id: Option<String>,
    ancestors: Vec<String>,
    title: String,
    title_ko: String,
    pillar: String,
    description: String,
    description_ko: String,
    sectors: Vec<String>,
    regions: Vec<String>,
    lead_organization: String,
    state: String,
    outcome: Option<String>,
    confidence: Option<String>,
    confidence_note: String,
    targets: Json<Vec<Target>>,
    milestones: Json<Vec<Milestone>>,
    linked_partners: Vec<String>,
    contributing_organizations: Vec<String>,
    contributes_to: Vec<String>,
    product_sets: Vec<String>,
    risks: Json<Vec<Risk>>,
    source: String,
    labels: Json<BTreeMap<String, String>>,
    /// Read raw, parsed once into its stored form (an unreadable value is recomputed).
    progress: Option<Json<Box<serde_json::value::RawValue>>>,
    latest_check_in: Option<Json<CheckIn>>,
}

impl TryFrom<GoalRow> for PolicyGoal {
    type Error = Error;
    fn try_from(r: GoalRow) -> Result<Self, Error> {
        let (id, stamps, c) = r.stamps.read("goal")?;
        let targets = r.targets.0.len();
        Ok(PolicyGoal {
            spec: GoalSpec {
                title: r.title,
                title_ko: r.title_ko,
                pillar: Some(c.value(&r.pillar, Pillar::parse, "pillar")?),
                parent: c.id(r.parent_id, "parent")?,
                description: r.description,
                description_ko: r.description_ko,
                sectors: r.sectors,
                regions: r.regions,
                lead_organization: r.lead_organization,
                confidence: c.optional(r.confidence.as_deref(), Confidence::parse, "confidence")?,
                confidence_note: r.confidence_note,
                targets: r.targets.0,
                milestones: r.milestones.0,
                linked_partners: c.ids(r.linked_partners, "linked partner")?,
                contributing_organizations: r.contributing_organizations,
                contributes_to: c.ids(r.contributes_to, "contributes_to goal")?,
                product_sets: c.ids(r.product_sets, "product set")?,
                risks: r.risks.0,
                source: r.source,
                labels: r.labels.0,
            },
            state: c.value(&r.state, GoalState::parse, "state")?,
            outcome: c.optional(r.outcome.as_deref(), Outcome::parse, "outcome")?,
            ancestors: c.ids(r.ancestors, "ancestor")?,
            stamps,
            progress: super::measurements::progress_from_json(r.progress.as_ref().map(|p| p.0.get()), targets),
            risk_register: Vec::new(),
            dependent_products: Vec::new(),
            latest_check_in: r.latest_check_in.map(|c| c.0),
            id,
        })
    }
}

fn rows_to_goals(rows: Vec<GoalRow>) -> Result<Vec<PolicyGoal>, Error> {
    rows.into_iter().map(PolicyGoal::try_from).collect()
}

/// The changes of goals an UPDATE … RETURNING * changed (the fields `mask`).
fn updated<'a>(rows: Vec<GoalRow>, mask: &[&str], ctx: &'a WriteCtx) -> Result<Vec<Change<'a>>, Error> {
    let mask: Vec<String> = mask.iter().map(|f| (*f).to_owned()).collect();
    rows_to_goals(rows)?
        .iter()
        .map(|g| g.change(ChangeKind::Updated, mask.clone(), ctx))
        .collect()
}

fn snapshot(goal: &PolicyGoal) -> Result<serde_json::Value, Error> {
    super::resource::snapshot(goal)
}

fn not_found(id: &Id) -> Error {
    super::resource::not_found::<PolicyGoal>(id)
}

impl Resource for PolicyGoal {
    const KIND: Kind = Kind {
        collection: GOALS,
        fields: FIELDS,
        select: "SELECT * FROM policy_goals",
        table: "policy_goals",
        id: "id",
        lock_then_read: false,
    };
    /// Its risk register (risks linking it); its progress moves with its measurements,
    /// which are named under it.
    const DEPENDS: super::cache::Depends = super::cache::Depends::On(&[Collection::Risks.resource_type()]);
    type Row = GoalRow;

    super::resource::stored_fields!();

    /// Progress: stored with the goal, computed here for old rows and for past states; the
    /// latest check-in: stored with the goal, looked up here for past states; the live risks
    /// of the register that link the goal (current state only).
    async fn complete(store: &Store, items: &mut [Self], as_of: Option<OffsetDateTime>) -> Result<(), Error> {
        store.attach_progress(items, as_of).await?;
        if let Some(t) = as_of {
            store.attach_latest_check_ins(items, t).await?;
        } else {
            let ids: Vec<&str> = items.iter().map(|g| g.id.as_str()).collect();
            let mut register = store.risk_register(super::risks::Link::Goals, &ids).await?;
            for g in items.iter_mut() {
                g.risk_register = register.remove(g.id.as_str()).unwrap_or_default();
            }
        }
        Ok(())
    }

    /// The dependent products behind the goal.
    async fn detail(store: &Store, goal: &mut Self) -> Result<(), Error> {
        goal.dependent_products = store.goal_dependents(goal).await?;
        Ok(())
    }

    /// Product sets of its own, or risks that may link some.
    fn has_detail(&self) -> bool {
        self.stamps.delete_time.is_none() && !(self.spec.product_sets.is_empty() && self.risk_register.is_empty())
    }
}

/// Resolves a goal's new parent: locks it (shared), checks it (see [`check_parent`]), and
/// returns its ancestors + itself and its pillar.
async fn resolve_parent(
    tx: &mut Transaction<'static, Postgres>,
    parent: &Id,
    child: &Id,
    field: &str,
) -> Result<(Vec<String>, String), Error> {
    let row: Option<(Vec<String>, String, Option<OffsetDateTime>)> =
        sqlx::query_as("SELECT ancestors, pillar, delete_time FROM policy_goals WHERE id = $1 FOR SHARE")
            .bind(parent.as_str())
            .fetch_optional(&mut **tx)
            .await
            .map_err(db_error)?;
    let found = row.map(|(a, p, d)| (a, p, d.is_some()));
    let (mut ancestors, pillar) = check_parent(found.as_ref(), parent, child, field)?;
    ancestors.push(parent.as_str().to_owned());
    Ok((ancestors, pillar))
}

/// Checks a stored parent (its ancestors, pillar and whether it is deleted, `None` when it does
/// not exist) for `child`: live, and not the child or one of its descendants. Returns the
/// parent's ancestors and pillar.
fn check_parent(
    found: Option<&(Vec<String>, String, bool)>,
    parent: &Id,
    child: &Id,
    field: &str,
) -> Result<(Vec<String>, String), Error> {
    let Some((ancestors, pillar, deleted)) = found else {
        return Err(Error::failed_precondition(
            Reason::ParentNotFound,
            format!("{field}: parent {} does not exist", GOALS.name(parent)),
            Some(GOALS.name(parent)),
        ));
    };
    if *deleted {
        return Err(Error::failed_precondition(
            Reason::ParentDeleted,
            format!("{field}: parent {} is deleted", GOALS.name(parent)),
            Some(GOALS.name(parent)),
        ));
    }
    if parent == child || ancestors.iter().any(|a| a == child.as_str()) {
        return Err(Error::failed_precondition(
            Reason::ParentCycle,
            format!(
                "{field}: {} is {} itself or one of its descendants; goals form a tree",
                GOALS.name(parent),
                GOALS.name(child)
            ),
            Some(GOALS.name(parent)),
        ));
    }
    Ok((ancestors.clone(), pillar.clone()))
}

/// Checks the goals a goal contributes to: live, locked (`FOR SHARE`) until the write
/// commits, and not the goal itself.
async fn check_contributions(
    tx: &mut Transaction<'static, Postgres>,
    id: &Id,
    to: &[Id],
    field: &str,
) -> Result<(), Error> {
    if to.contains(id) {
        return Err(Error::invalid(field, "must not name the goal itself"));
    }
    super::partners::lock_live_goals(tx, to, field).await
}

/// Checks the spec's pillar against the parent's and resolves an inherited one.
fn resolve_pillar(spec: &GoalSpec, parent_pillar: Option<&str>) -> Result<Pillar, Error> {
    match (spec.pillar, parent_pillar) {
        (Some(p), Some(pp)) if p.as_str() != pp => Err(Error::invalid(
            "policy_goal.pillar",
            format!("must match the parent's pillar {pp} (or be left unspecified)"),
        )),
        (Some(p), _) => Ok(p),
        (None, Some(pp)) => Pillar::parse(pp).ok_or_else(|| Error::Internal(format!("stored pillar {pp} is invalid"))),
        (None, None) => Err(Error::invalid(
            "policy_goal.pillar",
            "is required for a goal without a parent",
        )),
    }
}

/// The columns a goal write sets, with their types: the record type of the
/// `jsonb_to_recordset` that [`INSERT_GOALS`] and [`UPDATE_GOAL`] read their rows from, and
/// the fields of [`GoalColumns`] (a test checks the two agree).
const COLUMNS: &[(&str, &str)] = &[
    ("id", "text"),
    ("parent_id", "text"),
    ("ancestors", "text[]"),
    ("title", "text"),
    ("title_ko", "text"),
    ("pillar", "text"),
    ("description", "text"),
    ("sectors", "text[]"),
    ("regions", "text[]"),
    ("lead_organization", "text"),
    ("confidence", "text"),
    ("confidence_note", "text"),
    ("targets", "jsonb"),
    ("milestones", "jsonb"),
    ("linked_partners", "text[]"),
    ("risks", "jsonb"),
    ("source", "text"),
    ("labels", "jsonb"),
    ("progress_states", "text[]"),
    ("progress", "jsonb"),
    ("description_ko", "text"),
    ("contributing_organizations", "text[]"),
    ("contributes_to", "text[]"),
    ("product_sets", "text[]"),
    ("state", "text"),
];

fn record_type() -> String {
    COLUMNS
        .iter()
        .map(|(c, t)| format!("{c} {t}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Inserts the goals of a JSON array of [`GoalColumns`] in one statement (a goal whose id is
/// taken is skipped: the caller finds it missing from the rows returned).
static INSERT_GOALS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let names = COLUMNS.iter().map(|(c, _)| *c).collect::<Vec<_>>().join(", ");
    format!(
        "INSERT INTO policy_goals ({names}, create_time, update_time)
         SELECT {names}, now(), now() FROM jsonb_to_recordset($1) AS x({})
         ON CONFLICT (id) DO NOTHING
         RETURNING *",
        record_type()
    )
});

/// Rewrites one goal from a JSON array of one [`GoalColumns`] (its state is not written here:
/// state changes have their own method).
static UPDATE_GOAL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let set = COLUMNS
        .iter()
        .filter(|(c, _)| !matches!(*c, "id" | "state"))
        .map(|(c, _)| format!("{c} = x.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "UPDATE policy_goals g SET {set}, update_time = now(), revision = g.revision + 1
         FROM jsonb_to_recordset($1) AS x({})
         WHERE g.id = x.id
         RETURNING g.*",
        record_type()
    )
});

/// The stored columns of a goal, as one record of [`INSERT_GOALS`] and [`UPDATE_GOAL`].
#[derive(serde::Serialize)]
struct GoalColumns<'a> {
    id: &'a str,
    parent_id: Option<&'a str>,
    ancestors: &'a [String],
    title: &'a str,
    title_ko: &'a str,
    pillar: &'static str,
    description: &'a str,
    sectors: &'a [String],
    regions: &'a [String],
    lead_organization: &'a str,
    confidence: Option<&'static str>,
    confidence_note: &'a str,
    targets: &'a [Target],
    milestones: &'a [Milestone],
    linked_partners: Vec<&'a str>,
    risks: &'a [Risk],
    source: &'a str,
    labels: &'a BTreeMap<String, String>,
    progress_states: Vec<String>,
    progress: serde_json::Value,
    description_ko: &'a str,
    contributing_organizations: &'a [String],
    contributes_to: Vec<&'a str>,
    product_sets: Vec<&'a str>,
    state: &'static str,
}

impl<'a> GoalColumns<'a> {
    /// The columns of `spec` (its pillar resolved) with no measurement yet, or the given progress.
    fn new(
        id: &'a Id,
        spec: &'a GoalSpec,
        ancestors: &'a [String],
        pillar: Pillar,
        state: GoalState,
        progress: &[crate::domain::progress::Progress],
        progress_states: Vec<String>,
    ) -> Self {
        GoalColumns {
            id: id.as_str(),
            parent_id: spec.parent.as_ref().map(Id::as_str),
            ancestors,
            title: &spec.title,
            title_ko: &spec.title_ko,
            pillar: pillar.as_str(),
            description: &spec.description,
            sectors: &spec.sectors,
            regions: &spec.regions,
            lead_organization: &spec.lead_organization,
            confidence: spec.confidence.map(Confidence::as_str),
            confidence_note: &spec.confidence_note,
            targets: &spec.targets,
            milestones: &spec.milestones,
            linked_partners: spec.linked_partners.iter().map(Id::as_str).collect(),
            risks: &spec.risks,
            source: &spec.source,
            labels: &spec.labels,
            progress_states,
            progress: super::measurements::progress_json(progress),
            description_ko: &spec.description_ko,
            contributing_organizations: &spec.contributing_organizations,
            contributes_to: spec.contributes_to.iter().map(Id::as_str).collect(),
            product_sets: spec.product_sets.iter().map(Id::as_str).collect(),
            state: state.as_str(),
        }
    }
}

/// A goal to create: its id, spec and initial state.
pub type NewGoal = (Id, GoalSpec, GoalState);

/// Inserts one goal (see [`insert_goals`]).
async fn insert_goal(
    tx: &mut Transaction<'static, Postgres>,
    id: &Id,
    spec: GoalSpec,
    state: GoalState,
    validate_only: bool,
) -> Result<PolicyGoal, Error> {
    let mut goals = insert_goals(tx, vec![(id.clone(), spec, state)], false, validate_only).await?;
    goals
        .pop()
        .ok_or_else(|| Error::Internal("an insert returned no goal".into()))
}

/// Inserts goals in order, in a fixed number of statements whatever their count: their parents
/// and the goals they contribute to (stored, or created earlier in `goals`) and their partners
/// are locked and checked in one query each, the goals written in one INSERT and their partner
/// links in one more. With `indexed`, a refusal names its goal: `requests[i].policy_goal.…`.
///
/// With `validate_only` nothing is written: every check is made with reads (see
/// [`would_insert`]), and the goals returned are those the INSERT would have returned.
async fn insert_goals(
    tx: &mut Transaction<'static, Postgres>,
    goals: Vec<NewGoal>,
    indexed: bool,
    validate_only: bool,
) -> Result<Vec<PolicyGoal>, Error> {
    let at = |i: usize, e: Error| {
        if indexed {
            e.within(&format!("requests[{i}]"))
        } else {
            e
        }
    };
    // Parents that are not created earlier in this batch: locked (shared) and read at once.
    let mut earlier: HashMap<&Id, usize> = HashMap::new();
    let mut outside = Vec::new();
    for (i, (id, spec, _)) in goals.iter().enumerate() {
        if let Some(p) = &spec.parent
            && !earlier.contains_key(p)
        {
            outside.push(p.as_str());
        }
        earlier.insert(id, i);
    }
    let stored_parents: HashMap<String, (Vec<String>, String, bool)> = if outside.is_empty() {
        HashMap::new()
    } else {
        lock(tx, GOAL_TREE_LOCK, true).await?;
        let rows: Vec<(String, Vec<String>, String, Option<OffsetDateTime>)> = sqlx::query_as(
            "SELECT id, ancestors, pillar, delete_time FROM policy_goals WHERE id = ANY($1) ORDER BY id FOR SHARE",
        )
        .bind(&outside)
        .fetch_all(&mut **tx)
        .await
        .map_err(db_error)?;
        rows.into_iter()
            .map(|(id, a, p, d)| (id, (a, p, d.is_some())))
            .collect()
    };
    // Ancestors and pillar of each goal, in order.
    let mut placed: HashMap<&Id, (Vec<String>, Pillar)> = HashMap::new();
    let mut resolved = Vec::with_capacity(goals.len());
    for (i, (id, spec, _)) in goals.iter().enumerate() {
        let (ancestors, parent_pillar) = match &spec.parent {
            Some(parent) => {
                let (mut ancestors, pillar) = match placed.get(parent) {
                    Some((a, p)) => (a.clone(), p.as_str().to_owned()),
                    None => check_parent(stored_parents.get(parent.as_str()), parent, id, "policy_goal.parent")
                        .map_err(|e| at(i, e))?,
                };
                ancestors.push(parent.as_str().to_owned());
                (ancestors, Some(pillar))
            }
            None => (Vec::new(), None),
        };
        let pillar = resolve_pillar(spec, parent_pillar.as_deref()).map_err(|e| at(i, e))?;
        placed.insert(id, (ancestors.clone(), pillar));
        resolved.push((ancestors, pillar));
    }
    // Partners, and the goals contributed to that this batch does not create before.
    let partners: Vec<&[Id]> = goals
        .iter()
        .map(|(_, spec, _)| spec.linked_partners.as_slice())
        .collect();
    super::partners::lock_live_lists(
        tx,
        Collection::TradePartners,
        &partners,
        "policy_goal.linked_partners",
        at,
    )
    .await?;
    let sets: Vec<&[Id]> = goals.iter().map(|(_, spec, _)| spec.product_sets.as_slice()).collect();
    super::partners::lock_live_lists(tx, Collection::ProductSets, &sets, "policy_goal.product_sets", at).await?;
    let mut contributions: Vec<Vec<Id>> = Vec::new();
    for (i, (id, spec, _)) in goals.iter().enumerate() {
        if spec.contributes_to.contains(id) {
            return Err(at(
                i,
                Error::invalid("policy_goal.contributes_to", "must not name the goal itself"),
            ));
        }
        contributions.push(
            spec.contributes_to
                .iter()
                .filter(|g| earlier.get(g).is_none_or(|&j| j >= i))
                .cloned()
                .collect(),
        );
    }
    let contributions: Vec<&[Id]> = contributions.iter().map(Vec::as_slice).collect();
    super::partners::lock_live_lists(
        tx,
        Collection::PolicyGoals,
        &contributions,
        "policy_goal.contributes_to",
        at,
    )
    .await?;
    if validate_only {
        return would_insert(tx, goals, resolved, at).await;
    }
    // A new goal has no measurements (they go with a purged goal).
    let columns: Vec<GoalColumns> = goals
        .iter()
        .zip(&resolved)
        .map(|((id, spec, state), (ancestors, pillar))| {
            let (progress, states) = super::measurements::unmeasured_progress(id, &spec.targets);
            GoalColumns::new(id, spec, ancestors, *pillar, *state, &progress, states)
        })
        .collect();
    let rows: Vec<GoalRow> = sqlx::query_as(INSERT_GOALS.as_str())
        .bind(Json(&columns))
        .fetch_all(&mut **tx)
        .await
        .map_err(db_error)?;
    let mut inserted: HashMap<String, GoalRow> = rows.into_iter().map(|r| (r.stamps.id().to_owned(), r)).collect();
    let mut created = Vec::with_capacity(goals.len());
    for (i, (id, _, _)) in goals.iter().enumerate() {
        let Some(row) = inserted.remove(id.as_str()) else {
            return Err(at(
                i,
                Error::AlreadyExists {
                    resource_type: GOALS.resource_type(),
                    name: GOALS.name(id),
                },
            ));
        };
        created.push(PolicyGoal::try_from(row)?);
    }
    // A new goal has no link rows yet (a purged one's went with it).
    let (goal_ids, partner_ids): (Vec<&str>, Vec<&str>) = goals
        .iter()
        .flat_map(|(id, spec, _)| spec.linked_partners.iter().map(move |p| (id.as_str(), p.as_str())))
        .unzip();
    if !goal_ids.is_empty() {
        sqlx::query(
            "INSERT INTO goal_partner_links (goal_id, partner_id) SELECT * FROM unnest($1::text[], $2::text[])",
        )
        .bind(&goal_ids)
        .bind(&partner_ids)
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
    }
    Ok(created)
}

/// The validation of [`insert_goals`] after its reads (parents, partners, product sets, goals
/// contributed to), without the INSERT and its 27 indexes: what the INSERT would refuse is
/// refused the same way, read instead of written.
///
/// - The table's CHECK constraints that the types do not already guarantee (a non-empty
///   title, a parent other than the goal itself, no CLOSED state without an outcome; the id,
///   pillar, state and progress states are valid by construction) are evaluated for every row
///   first, as the INSERT does before its conflict check, with [`db_error`]'s answer to a
///   violated check.
/// - `ON CONFLICT (id) DO NOTHING` skips a goal whose id is stored (live or soft-deleted) or
///   taken earlier in the batch: the first such goal is ALREADY_EXISTS.
/// - The foreign keys (the parent, the partner links) hold: the parents and partners were
///   checked (and locked) above, and the index rows the INSERT would add are within the
///   B-tree size limit by the field length limits.
///
/// The goals returned are those the INSERT would have returned: created and updated at the
/// transaction's `now()`, revision 1, with no measurement and no check-in yet.
async fn would_insert(
    tx: &mut Transaction<'static, Postgres>,
    goals: Vec<NewGoal>,
    resolved: Vec<(Vec<String>, Pillar)>,
    at: impl Fn(usize, Error) -> Error,
) -> Result<Vec<PolicyGoal>, Error> {
    let refused_by_check = || Error::invalid("", "a value was refused by a database check");
    if goals.iter().any(|(id, spec, state)| {
        spec.title.is_empty() || spec.parent.as_ref() == Some(id) || *state == GoalState::Closed
    }) {
        return Err(refused_by_check());
    }
    let ids: Vec<&str> = goals.iter().map(|(id, _, _)| id.as_str()).collect();
    let (now, taken): (OffsetDateTime, Vec<String>) =
        sqlx::query_as("SELECT now(), ARRAY(SELECT id FROM policy_goals WHERE id = ANY($1))")
            .bind(&ids)
            .fetch_one(&mut **tx)
            .await
            .map_err(db_error)?;
    let mut seen: std::collections::HashSet<&str> = taken.iter().map(String::as_str).collect();
    for (i, id) in ids.iter().enumerate() {
        if !seen.insert(id) {
            return Err(at(
                i,
                Error::AlreadyExists {
                    resource_type: GOALS.resource_type(),
                    name: GOALS.name(&goals[i].0),
                },
            ));
        }
    }
    let stamps = crate::domain::Stamps {
        create_time: now,
        update_time: now,
        delete_time: None,
        expire_time: None,
        revision: 1,
    };
    goals
        .into_iter()
        .zip(resolved)
        .map(|((id, mut spec, state), (ancestors, pillar))| {
            let (progress, _) = super::measurements::unmeasured_progress(&id, &spec.targets);
            spec.pillar = Some(pillar);
            let ancestors = super::resource::Columns::new("goal", id.as_str()).ids(ancestors, "ancestor")?;
            Ok(PolicyGoal {
                spec,
                state,
                outcome: None,
                ancestors,
                stamps,
                progress,
                risk_register: Vec::new(),
                dependent_products: Vec::new(),
                latest_check_in: None,
                id,
            })
        })
        .collect()
}

/// Removes the product set `set` from the links of every live goal (a forced delete of the
/// set); returns the change records of the goals that changed.
pub(super) async fn unlink_product_set_from_goals<'a>(
    tx: &mut Transaction<'static, Postgres>,
    set: &Id,
    ctx: &'a WriteCtx,
) -> Result<Vec<Change<'a>>, Error> {
    let rows: Vec<GoalRow> = sqlx::query_as(
        "UPDATE policy_goals SET product_sets = array_remove(product_sets, $1), update_time = now(),
                revision = revision + 1
         WHERE product_sets @> ARRAY[$1] AND delete_time IS NULL
         RETURNING *",
    )
    .bind(set.as_str())
    .fetch_all(&mut **tx)
    .await
    .map_err(db_error)?;
    updated(rows, &["product_sets"], ctx)
}

impl Store {
    /// Creates goals in one transaction, all or nothing, in order (a parent may come earlier
    /// in `goals`). With a request id, a retry returns the original goals. Violations name
    /// the create by its index: `requests[i].policy_goal.parent`.
    pub async fn create_goals(&self, goals: Vec<NewGoal>, ctx: &WriteCtx) -> Result<Vec<PolicyGoal>, Error> {
        let spec_json = serde_json::to_vec(&goals).unwrap_or_default();
        let hash = request_hash(&[b"batch", &spec_json]);
        let mut tx = self.begin().await?;
        if let Claim::Replay(resp) = claim_request(&mut tx, "BatchCreatePolicyGoals", ctx, &hash).await? {
            let mut goals: Vec<PolicyGoal> =
                serde_json::from_value(resp).map_err(|e| Error::Internal(format!("stored response: {e}")))?;
            self.attach_progress(&mut goals, None).await?;
            return Ok(goals);
        }
        let created = insert_goals(&mut tx, goals, true, ctx.validate_only).await?;
        let snaps = created.iter().map(snapshot).collect::<Result<Vec<_>, _>>()?;
        let changes: Vec<Change> = created
            .iter()
            .zip(&snaps)
            .map(|(g, snap)| Change {
                resource_type: GOALS.resource_type(),
                name: g.name(),
                kind: ChangeKind::Created,
                mask: vec![],
                snapshot: Some(snap.clone()),
                ctx,
            })
            .collect();
        let response = serde_json::Value::Array(snaps);
        append_changes_answering(&mut tx, &changes, "BatchCreatePolicyGoals", ctx, &response).await?;
        Self::finish(tx, ctx).await?;
        Ok(created)
    }

    /// Creates a goal. With a request id, a retry returns the original goal.
    pub async fn create_goal(
        &self,
        id: &Id,
        spec: GoalSpec,
        initial_state: GoalState,
        ctx: &WriteCtx,
    ) -> Result<PolicyGoal, Error> {
        const METHOD: &str = "CreatePolicyGoal";
        let mut tx = match self.begin_create(METHOD, id, &(&spec, initial_state), ctx).await? {
            Begun::Write(tx) => tx,
            Begun::Replayed(original) => return Ok(original),
        };
        let goal = insert_goal(&mut tx, id, spec, initial_state, ctx.validate_only).await?;
        Self::commit_created(tx, &goal, METHOD, ctx).await?;
        Ok(goal)
    }

    /// Updates a goal: applies `patch` (the masked fields, each valid, or their violations,
    /// reported once the goal is locked and its etag and state checked) to the stored goal
    /// and checks the result. With `create_spec` (allow_missing), a missing goal is created.
    pub async fn update_goal(
        &self,
        id: &Id,
        etag: &str,
        mask: Vec<String>,
        patch: Result<GoalPatch, Error>,
        create_spec: Option<Result<GoalSpec, Error>>,
        ctx: &WriteCtx,
    ) -> Result<PolicyGoal, Error> {
        let mut tx = self.begin().await?;
        let Some(current) = lock_for::<PolicyGoal>(&mut tx, id, etag, Intent::Update).await? else {
            let spec = create_instead::<PolicyGoal, _>(id, etag, create_spec)?;
            let goal = insert_goal(&mut tx, id, spec, GoalState::Unspecified, ctx.validate_only).await?;
            Self::commit(tx, &[goal.change(ChangeKind::Created, vec![], ctx)?], ctx).await?;
            return Ok(goal);
        };
        let mut spec = current.patched(patch?).map_err(|e| e.within("policy_goal"))?;
        let parent_changed = spec.parent != current.spec.parent;
        let (ancestors, parent_pillar) = match (&spec.parent, parent_changed) {
            (Some(parent), true) => {
                lock(&mut tx, GOAL_TREE_LOCK, false).await?;
                let (a, p) = resolve_parent(&mut tx, parent, id, "policy_goal.parent").await?;
                (a, Some(p))
            }
            (None, true) => {
                lock(&mut tx, GOAL_TREE_LOCK, false).await?;
                (Vec::new(), None)
            }
            (Some(parent), false) => {
                let pillar: String = sqlx::query_scalar("SELECT pillar FROM policy_goals WHERE id = $1")
                    .bind(parent.as_str())
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_error)?;
                (
                    current.ancestors.iter().map(|a| a.as_str().to_owned()).collect(),
                    Some(pillar),
                )
            }
            (None, false) => (Vec::new(), None),
        };
        // A child inherits its parent's pillar unless it states the same one.
        if spec.pillar.is_none() || (parent_changed && spec.pillar == current.spec.pillar && spec.parent.is_some()) {
            spec.pillar = None;
        }
        let pillar = resolve_pillar(&spec, parent_pillar.as_deref())?;
        spec.pillar = Some(pillar);
        if spec == current.spec {
            // Nothing changes: no new revision, no change record.
            tx.rollback().await.map_err(db_error)?;
            return Ok(current);
        }
        if spec.contributes_to != current.spec.contributes_to {
            check_contributions(&mut tx, id, &spec.contributes_to, "policy_goal.contributes_to").await?;
        }
        if spec.product_sets != current.spec.product_sets {
            super::partners::lock_live_product_sets(&mut tx, &spec.product_sets, "policy_goal.product_sets").await?;
        }
        let partners_changed = spec.linked_partners != current.spec.linked_partners;
        if partners_changed {
            super::partners::lock_live_partners(&mut tx, &spec.linked_partners, "policy_goal.linked_partners").await?;
            super::partners::set_goal_links(&mut tx, id, &spec.linked_partners).await?;
        }
        // Targets may have changed: recompute the stored progress in this transaction.
        let (progress, progress_states) = super::measurements::compute_progress(&mut tx, id, &spec.targets).await?;
        let columns = [GoalColumns::new(
            id,
            &spec,
            &ancestors,
            pillar,
            current.state,
            &progress,
            progress_states,
        )];
        let row: GoalRow = sqlx::query_as(UPDATE_GOAL.as_str())
            .bind(Json(&columns))
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error)?;
        let goal = PolicyGoal::try_from(row)?;
        let mut changes = vec![goal.change(ChangeKind::Updated, mask, ctx)?];
        // Descendants follow a moved subtree and a changed pillar.
        if parent_changed || goal.spec.pillar != current.spec.pillar {
            let mut prefix = ancestors.clone();
            prefix.push(id.as_str().to_owned());
            let rows: Vec<GoalRow> = sqlx::query_as(
                "UPDATE policy_goals SET ancestors = $2 || ancestors[array_position(ancestors, $1) + 1:],
                        pillar = $3, update_time = now(), revision = revision + 1
                 WHERE $1 = ANY(ancestors)
                 RETURNING *",
            )
            .bind(id.as_str())
            .bind(&prefix)
            .bind(pillar.as_str())
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
            changes.extend(updated(rows, &["ancestors", "pillar"], ctx)?);
        }
        Self::commit(tx, &changes, ctx).await?;
        Ok(goal)
    }

    /// Soft-deletes a goal (and, with `force`, its live descendants).
    pub async fn delete_goal(
        &self,
        id: &Id,
        etag: &str,
        force: bool,
        allow_missing: bool,
        ctx: &WriteCtx,
    ) -> Result<Option<PolicyGoal>, Error> {
        let mut tx = self.begin().await?;
        if force {
            lock(&mut tx, GOAL_TREE_LOCK, false).await?;
        }
        let Some(current) = lock_for::<PolicyGoal>(&mut tx, id, etag, Intent::Delete).await? else {
            return if allow_missing { Ok(None) } else { Err(not_found(id)) };
        };
        let children: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM policy_goals WHERE parent_id = $1 AND delete_time IS NULL ORDER BY id LIMIT 5",
        )
        .bind(id.as_str())
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        if !force {
            let children = children.iter().map(String::as_str);
            refuse_linked(
                current.name(),
                Reason::HasLiveChildren,
                "has live child goals",
                GOALS,
                children,
                "delete them first",
            )?;
            let engaging = super::partners::partners_engaging_goals(&mut tx, &[id.as_str()]).await?;
            let engaging = engaging.iter().map(String::as_str);
            let what = "is linked by engagements of live partners";
            refuse_linked(
                current.name(),
                Reason::LinkedByPartners,
                what,
                Collection::TradePartners,
                engaging,
                "unlink it first",
            )?;
            let risks = super::risks::risks_linking(&mut tx, super::risks::Link::Goals, &[id.as_str()]).await?;
            let risks = risks.iter().map(String::as_str);
            let fix = "unlink it from them first";
            refuse_linked(
                current.name(),
                Reason::LinkedByRisks,
                "is linked by live risks",
                Collection::Risks,
                risks,
                fix,
            )?;
            let contributors: Vec<String> = sqlx::query_scalar(
                "SELECT id FROM policy_goals WHERE $1 = ANY(contributes_to) AND delete_time IS NULL ORDER BY id LIMIT 5",
            )
            .bind(id.as_str())
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
            if !contributors.is_empty() {
                return Err(Error::failed_precondition(
                    Reason::LinkedByGoals,
                    format!(
                        "live goals contribute to {} ({}); remove it from their contributes_to first or set force",
                        current.name(),
                        super::name_list(GOALS, contributors.iter().map(String::as_str))
                    ),
                    Some(current.name()),
                ));
            }
        }
        let retention = self.opts.soft_delete_retention;
        let rows: Vec<GoalRow> = sqlx::query_as(
            "UPDATE policy_goals SET delete_time = now(), expire_time = now() + $2, update_time = now(), revision = revision + 1
             WHERE (id = $1 OR ($3 AND $1 = ANY(ancestors))) AND delete_time IS NULL
             RETURNING *",
        )
        .bind(id.as_str())
        .bind(retention)
        .bind(force)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        let goals = rows_to_goals(rows)?;
        let mut changes = goals
            .iter()
            .map(|g| g.change(ChangeKind::Deleted, vec![], ctx))
            .collect::<Result<Vec<_>, Error>>()?;
        if force {
            // Forced: the deleted goals leave the engagements of live partners (new revisions).
            let deleted: Vec<&str> = goals.iter().map(|g| g.id.as_str()).collect();
            changes.extend(super::partners::unlink_goals_from_engagements(&mut tx, &deleted, ctx).await?);
            // … the links of live risks …
            changes.extend(super::risks::unlink_from_risks(&mut tx, super::risks::Link::Goals, &deleted, ctx).await?);
            // … and the contributes_to of live goals.
            let rows: Vec<GoalRow> = sqlx::query_as(
                "UPDATE policy_goals
                 SET contributes_to = ARRAY(SELECT g FROM unnest(contributes_to) g WHERE g <> ALL($1)),
                     update_time = now(), revision = revision + 1
                 WHERE contributes_to && $1 AND delete_time IS NULL
                 RETURNING *",
            )
            .bind(&deleted)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
            changes.extend(updated(rows, &["contributes_to"], ctx)?);
        }
        Self::commit(tx, &changes, ctx).await?;
        goals
            .into_iter()
            .find(|g| &g.id == id)
            .map(Some)
            .ok_or_else(|| not_found(id))
    }

    /// Restores a soft-deleted goal; its parent must be live.
    pub async fn undelete_goal(&self, id: &Id, etag: &str, ctx: &WriteCtx) -> Result<PolicyGoal, Error> {
        let mut tx = self.begin().await?;
        lock(&mut tx, GOAL_TREE_LOCK, true).await?;
        let current = lock_for::<PolicyGoal>(&mut tx, id, etag, Intent::Undelete)
            .await?
            .ok_or_else(|| not_found(id))?;
        if let Some(parent) = &current.spec.parent {
            resolve_parent(&mut tx, parent, id, "parent").await?;
        }
        super::partners::lock_live_partners(&mut tx, &current.spec.linked_partners, "linked_partners").await?;
        check_contributions(&mut tx, id, &current.spec.contributes_to, "contributes_to").await?;
        super::partners::lock_live_product_sets(&mut tx, &current.spec.product_sets, "product_sets").await?;
        Self::restore(tx, id, ctx).await
    }

    /// Moves a goal through its lifecycle.
    pub async fn change_goal_state(
        &self,
        id: &Id,
        state: GoalState,
        outcome: Option<Outcome>,
        etag: &str,
        ctx: &WriteCtx,
    ) -> Result<PolicyGoal, Error> {
        let mut tx = self.begin().await?;
        let current = lock_for::<PolicyGoal>(&mut tx, id, etag, Intent::Update)
            .await?
            .ok_or_else(|| not_found(id))?;
        if !current.state.can_become(state) {
            return Err(Error::failed_precondition(
                Reason::InvalidStateTransition,
                format!("{} cannot go from {} to {}", current.name(), current.state, state),
                Some(current.name()),
            ));
        }
        let row: GoalRow = sqlx::query_as(
            "UPDATE policy_goals SET state = $2, outcome = $3, update_time = now(), revision = revision + 1
             WHERE id = $1 RETURNING *",
        )
        .bind(id.as_str())
        .bind(state.as_str())
        .bind(outcome.map(Outcome::as_str))
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
        let goal = PolicyGoal::try_from(row)?;
        let change = goal.change(ChangeKind::Updated, vec!["state".into(), "outcome".into()], ctx)?;
        Self::commit(tx, &[change], ctx).await?;
        Ok(goal)
    }

    /// Removes `partner` from the links of every live goal (a forced partner delete); returns
    /// the change records of the goals that changed.
    pub(super) async fn unlink_partner_from_goals<'a>(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        partner: &Id,
        ctx: &'a WriteCtx,
    ) -> Result<Vec<Change<'a>>, Error> {
        let rows: Vec<GoalRow> = sqlx::query_as(
            "UPDATE policy_goals SET linked_partners = array_remove(linked_partners, $1), update_time = now(),
                    revision = revision + 1
             WHERE delete_time IS NULL AND id IN (SELECT goal_id FROM goal_partner_links WHERE partner_id = $1)
             RETURNING *",
        )
        .bind(partner.as_str())
        .fetch_all(&mut **tx)
        .await
        .map_err(db_error)?;
        sqlx::query(
            "DELETE FROM goal_partner_links l USING policy_goals g
             WHERE l.partner_id = $1 AND g.id = l.goal_id AND g.delete_time IS NULL",
        )
        .bind(partner.as_str())
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
        updated(rows, &["linked_partners"], ctx)
    }

    /// Purges soft-deleted goals past their expire time, leaves first.
    pub(super) async fn purge_expired_goals(&self) -> Result<u64, Error> {
        self.purge_in_batches(
            "DELETE FROM policy_goals g WHERE g.id IN (
                SELECT id FROM policy_goals p WHERE p.expire_time < now()
                  AND NOT EXISTS (SELECT 1 FROM policy_goals c WHERE c.parent_id = p.id)
                  AND NOT EXISTS (SELECT 1 FROM trade_partners t, jsonb_array_elements(t.engagements) e,
                                       jsonb_array_elements_text(e->'linked_goals') l
                                  WHERE t.delete_time IS NULL AND l = p.id)
                LIMIT 500 FOR UPDATE SKIP LOCKED)
             RETURNING g.id",
            GOALS,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_type_names_every_column_a_write_sets() {
        let id = Id::try_from("g".to_owned()).expect("a valid id");
        let spec = GoalSpec::default();
        let record = GoalColumns::new(
            &id,
            &spec,
            &[],
            Pillar::IndustrialResurgence,
            GoalState::Active,
            &[],
            vec![],
        );
        let value = serde_json::to_value(&record).expect("serialisable");
        let mut fields: Vec<&str> = value
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        let mut columns: Vec<&str> = COLUMNS.iter().map(|(c, _)| *c).collect();
        fields.sort_unstable();
        columns.sort_unstable();
        assert_eq!(fields, columns);
    }
}
