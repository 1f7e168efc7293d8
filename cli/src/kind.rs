//! What the CLI knows about each kind of resource, in one place: its names, its file record,
//! its view, its table columns and its RPCs. The generic commands (`commands::resource`) and
//! import/export (`transfer`) are written once over [`Kind`].
//!
//! The writable fields are not listed here: they come from the protos' `field_behavior`
//! annotations ([`Kind::writable`]).

use registry_client::{Error as ApiError, Listed, RegistryClient, annotations, pb, prost_types};
use serde::{Serialize, de::DeserializeOwned};

use crate::{
    output::join,
    plain::{self, Plain, Shape},
    product_sets::{ProductSetRecord, ProductSetShape, ProductSetView},
    records::{
        AgreementRecord, AgreementShape, AgreementView, DependentProductView, GoalRecord, GoalShape, GoalView,
        PartnerRecord, PartnerShape, PartnerView, RiskEntryRecord, RiskEntryShape, RiskEntryView, Stamp, enum_name,
        parse_enum,
    },
};

type ApiResult<T> = Result<T, ApiError>;
type Timestamp = prost_types::Timestamp;

/// A kind of resource the CLI lists, shows, creates, updates, deletes, imports and exports.
#[allow(async_fn_in_trait)] // called from the CLI's own single-threaded futures only
pub trait Kind: Sized + 'static {
    /// For messages: `goal`.
    const NOUN: &'static str;
    /// `goals`: the section of a data file and the file `export` writes.
    const PLURAL: &'static str;
    /// `policyGoals/`: the prefix of resource names.
    const COLLECTION: &'static str;
    /// The proto message, e.g. `motie.registry.v1.PolicyGoal`.
    const MESSAGE: &'static str = <Self::Shape as Shape>::MESSAGE;
    /// Top-level keys of `get -o yaml` output that the server sets (a file may carry them),
    /// besides `name` and the [`Stamp`]'s.
    const OUTPUT_ONLY: &'static [&'static str];
    /// Keys of an update file that are not update-mask paths.
    const NOT_IN_MASK: &'static [&'static str] = &["id"];
    /// Header of `list`'s table.
    const COLUMNS: &'static [&'static str];

    type Pb: Send + 'static;
    type Record: Clone + PartialEq + Default + Serialize + DeserializeOwned + std::fmt::Debug;
    type View: Serialize;
    /// The proto message and the fields the record spells on its own.
    type Shape: Shape;
    type List: Listed<Item = Self::Pb>;

    fn list_request(filter: String, order_by: String, page_size: i32, show_deleted: bool) -> Self::List;
    /// The protobuf resource (name set); every local problem, not just the first.
    fn to_pb(r: &Self::Record) -> Result<Self::Pb, Vec<String>>;
    /// The record of a stored resource, in canonical form.
    fn from_pb(p: &Self::Pb) -> Self::Record;
    fn record_id(r: &Self::Record) -> &str;
    fn set_record_id(r: &mut Self::Record, id: String);
    fn pb_name(p: &Self::Pb) -> &str;
    fn etag(p: &Self::Pb) -> &str;
    fn set_etag(p: &mut Self::Pb, etag: String);
    /// When it was soft-deleted (none: live).
    fn delete_time(p: &Self::Pb) -> Option<&Timestamp>;
    fn deleted(p: &Self::Pb) -> bool {
        Self::delete_time(p).is_some()
    }

    fn view(p: &Self::Pb) -> Self::View;
    fn stamp(v: &Self::View) -> &Stamp;
    /// A row of `list`'s table.
    fn row(v: &Self::View) -> Vec<String>;
    /// The rows of `get`'s table for the fields that are not plain (see [`Kind::table_rows`]).
    fn rows(v: &Self::View) -> Vec<(&'static str, String)>;
    /// The plain fields of a view.
    fn plain(v: &Self::View) -> &Plain<Self::Shape>;

    /// The rows of `get`'s table before the stamp's, in the proto's field order: the plain
    /// fields from the descriptor, the others from [`Kind::rows`].
    fn table_rows(v: &Self::View) -> Vec<(String, String)> {
        let mut special = Self::rows(v);
        let fields = Self::plain(v);
        let plain: Vec<String> = plain::fields::<Self::Shape>()
            .iter()
            .map(|f| f.name().to_owned())
            .collect();
        let mut out = Vec::new();
        for name in plain::all_field_names::<Self::Shape>() {
            if let Some(i) = special.iter().position(|(k, _)| *k == name) {
                let (k, v) = special.remove(i);
                out.push((k.to_owned(), v));
            } else if plain.contains(&name) {
                let text = fields.text(&name);
                out.push((name, text));
            }
        }
        out.extend(special.into_iter().map(|(k, v)| (k.to_owned(), v)));
        out
    }

    async fn get(c: &RegistryClient, name: String, read_time: Option<Timestamp>) -> ApiResult<Self::Pb>;
    async fn create(
        c: &RegistryClient,
        id: String,
        p: Self::Pb,
        request_id: String,
        validate_only: bool,
    ) -> ApiResult<Self::Pb>;
    async fn update(
        c: &RegistryClient,
        p: Self::Pb,
        mask: Vec<String>,
        allow_missing: bool,
        validate_only: bool,
    ) -> ApiResult<Self::Pb>;
    async fn delete(c: &RegistryClient, name: String, etag: String, opts: DeleteOpts) -> ApiResult<Self::Pb>;
    async fn undelete(c: &RegistryClient, name: String, etag: String, validate_only: bool) -> ApiResult<Self::Pb>;

    /// The lifecycle (state, outcome) a record asks for, reached after writing it.
    fn wanted_state(_r: &Self::Record) -> Result<Option<(i32, i32)>, String> {
        Ok(None)
    }
    fn state_of(_p: &Self::Pb) -> (i32, i32) {
        (0, 0)
    }
    async fn reach_state(_c: &RegistryClient, _name: &str, _wanted: (i32, i32)) -> ApiResult<()> {
        Ok(())
    }

    /// `policyGoals/x` or `x` → `x`.
    fn id_of(s: &str) -> &str {
        s.strip_prefix(Self::COLLECTION).unwrap_or(s)
    }
    /// `x` or `policyGoals/x` → `policyGoals/x`.
    fn name_of(s: &str) -> String {
        format!("{}{}", Self::COLLECTION, Self::id_of(s))
    }
    /// The update-mask paths an update may name, from the proto's field behaviours.
    fn writable() -> Vec<String> {
        annotations::writable_fields(Self::MESSAGE)
    }
}

/// Options of a delete.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeleteOpts {
    pub force: bool,
    pub allow_missing: bool,
    pub validate_only: bool,
}

fn mask(paths: Vec<String>) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask { paths })
}

/// The dependent products of a goal or partner, one per line.
fn dependent(products: &[DependentProductView]) -> String {
    lines(products.iter().map(DependentProductView::line))
}

fn with_deleted(mut s: String, stamp: &Stamp) -> String {
    if stamp.delete_time.is_some() {
        s.push_str(" (deleted)");
    }
    s
}

fn lines(items: impl IntoIterator<Item = String>) -> String {
    items.into_iter().collect::<Vec<_>>().join("\n")
}

/// +1 or −1 for a relative target (INCREASE_BY / DECREASE_BY: a change from the baseline, an
/// amount or a percentage of it); `None` for an absolute one.
pub fn relative_sign(t: &pb::Target) -> Option<f64> {
    use pb::target::Direction;
    match Direction::try_from(t.direction) {
        Ok(Direction::IncreaseBy) => Some(1.0),
        Ok(Direction::DecreaseBy) => Some(-1.0),
        _ => None,
    }
}

/// How a target reads: "500 factories", or for a relative one "+30% of the baseline" /
/// "−10 t".
pub fn target_text(t: &pb::Target) -> String {
    let value = fmt_number(t.target_value);
    match relative_sign(t) {
        None => format!("{value} {}", t.unit),
        Some(s) => {
            let sign = if s > 0.0 { "+" } else { "−" };
            if t.percent_of_baseline {
                format!("{sign}{value}% of the baseline")
            } else {
                format!("{sign}{value} {}", t.unit)
            }
        }
    }
}

/// `12`, `2.5`: whole numbers without a fraction.
pub fn fmt_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        v.to_string()
    }
}

/// The rows of a goal's or partner's risks: its own ("category: title", one per line), the
/// entries of the register that link it, the dependent products behind them; and its labels.
fn risk_rows<S: Shape>(
    risks: &[Plain<S>],
    register: &[String],
    products: &[DependentProductView],
    l: &std::collections::BTreeMap<String, String>,
) -> [(&'static str, String); 4] {
    [
        (
            "risks",
            lines(
                risks
                    .iter()
                    .map(|k| format!("{}: {}", k.text("category"), k.text("title"))),
            ),
        ),
        ("risk_register", join(register)),
        ("dependent_products", dependent(products)),
        ("labels", labels(l)),
    ]
}

fn labels(l: &std::collections::BTreeMap<String, String>) -> String {
    l.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
}

/// Policy goals.
pub struct Goals;
/// Trade partners.
pub struct Partners;
/// Product sets (named HS 6-digit product lists).
pub struct ProductSets;
/// Agreements (`agreements/{agreement}`).
pub struct Agreements;
/// Entries of the risk register.
pub struct Risks;

/// What every kind's `impl Kind` says the same way, from one line per kind: its names, its
/// types (proto message, record, shape, view, List request) and the requests of its standard
/// methods (`Create { id field, resource field }`, `Update { resource field }`, `Delete`,
/// `Undelete`), the output-only keys of its files and the columns of its table; the fields
/// every resource has (`name`, `etag`, `delete_time`; `id` in its
/// record) are read the same way for all.
macro_rules! standard {
    (
        $noun:literal $plural:literal $collection:literal: $pb:ident, $record:ty, $shape:ty, $view:ty, $list:ident;
        $create_req:ident { $id_field:ident, $field:ident }, $update_req:ident { $update_field:ident }, $delete_req:ident, $undelete_req:ident
        output_only [$($output_only:literal),*]; columns [$($column:literal),*];
    ) => {
        const OUTPUT_ONLY: &'static [&'static str] = &[$($output_only),*];
        const COLUMNS: &'static [&'static str] = &[$($column),*];
        const NOUN: &'static str = $noun;
        const PLURAL: &'static str = $plural;
        const COLLECTION: &'static str = $collection;
        type Pb = pb::$pb;
        type Shape = $shape;
        type Record = $record;
        type View = $view;
        type List = pb::$list;

        fn list_request(filter: String, order_by: String, page_size: i32, show_deleted: bool) -> pb::$list {
            pb::$list {
                page_size,
                page_token: String::new(),
                filter,
                order_by,
                show_deleted,
            }
        }
        fn to_pb(r: &$record) -> Result<pb::$pb, Vec<String>> {
            r.to_pb()
        }
        fn from_pb(p: &pb::$pb) -> $record {
            <$record>::from_pb(p)
        }
        fn record_id(r: &$record) -> &str {
            &r.id
        }
        fn set_record_id(r: &mut $record, id: String) {
            r.id = id;
        }
        fn pb_name(p: &pb::$pb) -> &str {
            &p.name
        }
        fn etag(p: &pb::$pb) -> &str {
            &p.etag
        }
        fn set_etag(p: &mut pb::$pb, etag: String) {
            p.etag = etag;
        }
        fn delete_time(p: &pb::$pb) -> Option<&Timestamp> {
            p.delete_time.as_ref()
        }
        fn view(p: &pb::$pb) -> $view {
            <$view>::new(p)
        }
        fn stamp(v: &$view) -> &Stamp {
            &v.stamp
        }
        fn plain(v: &$view) -> &Plain<$shape> {
            &v.record.fields
        }

        async fn get(c: &RegistryClient, name: String, read_time: Option<Timestamp>) -> ApiResult<pb::$pb> {
            c.get(name, read_time).await
        }
        async fn create(
            c: &RegistryClient,
            id: String,
            p: pb::$pb,
            request_id: String,
            validate_only: bool,
        ) -> ApiResult<pb::$pb> {
            c.call(pb::$create_req {
                $id_field: id,
                $field: Some(p),
                request_id,
                validate_only,
            })
            .await
        }
        async fn update(
            c: &RegistryClient,
            p: pb::$pb,
            paths: Vec<String>,
            allow_missing: bool,
            validate_only: bool,
        ) -> ApiResult<pb::$pb> {
            c.call(pb::$update_req {
                $update_field: Some(p),
                update_mask: mask(paths),
                allow_missing,
                validate_only,
            })
            .await
        }
        async fn delete(c: &RegistryClient, name: String, etag: String, o: DeleteOpts) -> ApiResult<pb::$pb> {
            c.call(pb::$delete_req {
                name,
                etag,
                force: o.force,
                allow_missing: o.allow_missing,
                validate_only: o.validate_only,
            })
            .await
        }
        async fn undelete(c: &RegistryClient, name: String, etag: String, validate_only: bool) -> ApiResult<pb::$pb> {
            c.call(pb::$undelete_req {
                name,
                etag,
                validate_only,
            })
            .await
        }
    };
}

impl Kind for Goals {
    standard! {
        "goal" "goals" "policyGoals/": PolicyGoal, GoalRecord, GoalShape, GoalView, ListPolicyGoalsRequest;
        CreatePolicyGoalRequest { policy_goal_id, policy_goal }, UpdatePolicyGoalRequest { policy_goal }, DeletePolicyGoalRequest, UndeletePolicyGoalRequest
        output_only ["ancestors", "progress", "risk_register", "dependent_products", "latest_check_in"]; columns ["ID", "TITLE", "PILLAR", "STATE", "PARENT", "UPDATED"];
    }
    const NOT_IN_MASK: &'static [&'static str] = &["id", "state", "outcome"];

    fn row(v: &GoalView) -> Vec<String> {
        let r = &v.record;
        vec![
            r.id.clone(),
            r.fields.text("title"),
            r.pillar.clone().unwrap_or_default(),
            with_deleted(r.state.clone().unwrap_or_default(), &v.stamp),
            r.parent.clone().unwrap_or_default(),
            v.stamp.update_time.clone().unwrap_or_default(),
        ]
    }
    fn rows(v: &GoalView) -> Vec<(&'static str, String)> {
        let r = &v.record;
        let target = |t: &crate::records::TargetRecord| {
            format!(
                "{}: {} {} {} by {}",
                t.metric,
                t.comparator.as_deref().unwrap_or_default(),
                fmt_number(t.target_value),
                t.unit,
                t.target_year
            )
        };
        let targets = r.targets.iter().enumerate().map(|(i, t)| match v.progress.get(i) {
            Some(p) if p.state.is_empty() => format!("{} ({})", target(t), t.direction),
            Some(p) => format!("{} ({}) — {}", target(t), t.direction, p.state),
            None => target(t),
        });
        let milestones = r.milestones.iter().map(|m| {
            let due = m.due.map(|d| format!(" (due {d})")).unwrap_or_default();
            format!("{}{due} [{}]", m.fields.text("title"), stated(&m.fields.text("state")))
        });
        let state = match &r.outcome {
            Some(o) => format!("{} ({o})", r.state.as_deref().unwrap_or_default()),
            None => stated(r.state.as_deref().unwrap_or_default()).to_owned(),
        };
        let mut rows = vec![
            ("name", v.name.clone()),
            ("pillar", r.pillar.clone().unwrap_or_default()),
            ("parent", r.parent.clone().unwrap_or_default()),
            ("ancestors", join(&v.ancestors)),
            ("state", state),
            (
                "stated confidence",
                v.latest_check_in
                    .as_ref()
                    .map_or_else(|| "none (no check-in)".to_owned(), |c| c.summary()),
            ),
            ("sectors", join(&r.sectors)),
            ("regions", join(&r.regions)),
            ("targets", lines(targets)),
            ("milestones", lines(milestones)),
            ("linked_partners", join(&r.linked_partners)),
            ("product_sets", join(&r.product_sets)),
        ];
        rows.extend(risk_rows(&r.risks, &v.risk_register, &v.dependent_products, &r.labels));
        rows
    }

    fn wanted_state(r: &GoalRecord) -> Result<Option<(i32, i32)>, String> {
        let Some(s) = r.state.as_deref() else {
            return Ok(None);
        };
        let state = parse_enum::<pb::policy_goal::State>("state", s)?;
        let outcome = match r.outcome.as_deref() {
            Some(o) => parse_enum::<pb::policy_goal::Outcome>("outcome", o)?,
            None => 0,
        };
        Ok(Some((state, outcome)))
    }
    fn state_of(p: &pb::PolicyGoal) -> (i32, i32) {
        (p.state, p.outcome)
    }
    async fn reach_state(c: &RegistryClient, name: &str, (state, outcome): (i32, i32)) -> ApiResult<()> {
        reach_state(c, name, state, outcome).await
    }
}

/// Whether the server lets a goal go from `from` to `to` in one step.
pub fn can_become(from: i32, to: i32) -> bool {
    use pb::policy_goal::State as S;
    let (Ok(from), Ok(to)) = (S::try_from(from), S::try_from(to)) else {
        return false;
    };
    matches!(
        (from, to),
        (S::Planned, S::Active | S::OnHold | S::Closed)
            | (S::Active, S::OnHold | S::Closed)
            | (S::OnHold, S::Active | S::Closed)
            | (S::Closed, S::Active)
    )
}

/// Moves a goal to `state` (with `outcome` when CLOSED), through ACTIVE when there is no
/// direct transition. Does nothing when it already is there.
pub async fn reach_state(client: &RegistryClient, name: &str, state: i32, outcome: i32) -> ApiResult<()> {
    let current = client.get_policy_goal(name).await?;
    if current.state == state && current.outcome == outcome {
        return Ok(());
    }
    let change = |s: i32, o: i32| pb::ChangePolicyGoalStateRequest {
        name: name.to_owned(),
        state: s,
        outcome: o,
        etag: String::new(),
    };
    if !can_become(current.state, state) {
        client
            .change_policy_goal_state(change(pb::policy_goal::State::Active as i32, 0))
            .await?;
    }
    client.change_policy_goal_state(change(state, outcome)).await?;
    Ok(())
}

/// The state a stored goal is in, by name (UNSPECIFIED: the source does not say).
pub fn state_of(g: &pb::PolicyGoal) -> String {
    stated(&enum_name::<pb::policy_goal::State>(g.state).unwrap_or_default()).to_owned()
}

/// A state for a table: UNSPECIFIED when none is stated (records leave it out).
pub fn stated(state: &str) -> &str {
    if state.is_empty() { "UNSPECIFIED" } else { state }
}

impl Kind for Partners {
    standard! {
        "partner" "partners" "tradePartners/": TradePartner, PartnerRecord, PartnerShape, PartnerView, ListTradePartnersRequest;
        CreateTradePartnerRequest { trade_partner_id, trade_partner }, UpdateTradePartnerRequest { trade_partner }, DeleteTradePartnerRequest, UndeleteTradePartnerRequest
        output_only ["memberships", "linked_goals", "trade_agreements", "risk_register", "dependent_products"]; columns ["ID", "KIND", "NAME", "MEMBERS", "LINKED GOALS", "UPDATED"];
    }

    fn row(v: &PartnerView) -> Vec<String> {
        vec![
            v.record.id.clone(),
            with_deleted(v.record.kind.clone(), &v.stamp),
            v.record.fields.text("display_name"),
            join(&v.record.members),
            join(&v.linked_goals),
            v.stamp.update_time.clone().unwrap_or_default(),
        ]
    }
    fn rows(v: &PartnerView) -> Vec<(&'static str, String)> {
        let r = &v.record;
        let engagements = r.engagements.iter().map(|e| {
            let f = &e.fields;
            let date = Some(f.text("date"))
                .filter(|d| !d.is_empty())
                .map(|d| format!(", {d}"))
                .unwrap_or_default();
            let state = f.text("state");
            let follows = e
                .agreement
                .as_deref()
                .map(|a| format!(" → agreements/{a}"))
                .unwrap_or_default();
            format!(
                "{} ({}, {}{date}){follows}",
                f.text("title"),
                f.text("kind"),
                stated(&state)
            )
        });
        let mut rows = vec![
            ("name", v.name.clone()),
            ("kind", r.kind.clone()),
            ("members", join(&r.members)),
            ("memberships", join(&v.memberships)),
            ("trade_agreements", join(&v.trade_agreements)),
            ("engagements", lines(engagements)),
            ("linked_goals", join(&v.linked_goals)),
        ];
        rows.extend(risk_rows(&r.risks, &v.risk_register, &v.dependent_products, &r.labels));
        rows
    }
}

impl Kind for ProductSets {
    standard! {
        "product set" "product_sets" "productSets/": ProductSet, ProductSetRecord, ProductSetShape, ProductSetView, ListProductSetsRequest;
        CreateProductSetRequest { product_set_id, product_set }, UpdateProductSetRequest { product_set }, DeleteProductSetRequest, UndeleteProductSetRequest
        output_only []; columns ["ID", "NAME", "PRODUCTS", "UPDATED"];
    }

    fn row(v: &ProductSetView) -> Vec<String> {
        vec![
            with_deleted(v.record.id.clone(), &v.stamp),
            v.record.fields.text("display_name"),
            v.record.products.len().to_string(),
            v.stamp.update_time.clone().unwrap_or_default(),
        ]
    }
    fn rows(view: &ProductSetView) -> Vec<(&'static str, String)> {
        vec![
            ("name", view.name.clone()),
            ("products", join(&view.record.products)),
            ("labels", labels(&view.record.labels)),
        ]
    }
}

impl Kind for Agreements {
    standard! {
        "agreement" "agreements" "agreements/": TradeAgreement, AgreementRecord, AgreementShape, AgreementView, ListTradeAgreementsRequest;
        CreateTradeAgreementRequest { trade_agreement_id, trade_agreement }, UpdateTradeAgreementRequest { trade_agreement }, DeleteTradeAgreementRequest, UndeleteTradeAgreementRequest
        output_only ["status"]; columns ["ID", "TITLE", "KIND", "PARTIES", "STATUS", "UPDATED"];
    }

    fn row(v: &AgreementView) -> Vec<String> {
        vec![
            v.record.id.clone(),
            v.record.fields.text("title"),
            v.record.fields.text("kind"),
            join(&v.record.parties),
            with_deleted(v.status.clone(), &v.stamp),
            v.stamp.update_time.clone().unwrap_or_default(),
        ]
    }
    fn rows(view: &AgreementView) -> Vec<(&'static str, String)> {
        let r = &view.record;
        let events = r.events.iter().map(|e| {
            let source = Some(e.text("source"))
                .filter(|s| !s.is_empty())
                .map(|s| format!(" ({s})"))
                .unwrap_or_default();
            format!("{} {}{source}", e.text("date"), e.text("kind"))
        });
        vec![
            ("name", view.name.clone()),
            ("parties", join(&r.parties)),
            ("events", lines(events)),
            ("status", view.status.clone()),
            ("labels", labels(&r.labels)),
        ]
    }
}

impl Kind for Risks {
    standard! {
        "risk" "risks" "risks/": RiskEntry, RiskEntryRecord, RiskEntryShape, RiskEntryView, ListRiskEntriesRequest;
        CreateRiskEntryRequest { risk_id, risk }, UpdateRiskEntryRequest { risk }, DeleteRiskEntryRequest, UndeleteRiskEntryRequest
        output_only []; columns ["ID", "CATEGORY", "TITLE", "STATE", "GOALS", "PARTNERS", "UPDATED"];
    }

    fn row(v: &RiskEntryView) -> Vec<String> {
        let r = &v.record;
        vec![
            r.id.clone(),
            r.fields.text("category"),
            r.fields.text("title"),
            with_deleted(r.fields.text("state"), &v.stamp),
            join(&r.goals),
            join(&r.partners),
            v.stamp.update_time.clone().unwrap_or_default(),
        ]
    }
    fn rows(view: &RiskEntryView) -> Vec<(&'static str, String)> {
        let r = &view.record;
        vec![
            ("name", view.name.clone()),
            ("goals", join(&r.goals)),
            ("partners", join(&r.partners)),
            ("product_sets", join(&r.product_sets)),
            ("labels", labels(&r.labels)),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writable_fields_come_from_the_proto() {
        let goal = Goals::writable();
        for f in ["title", "pillar", "parent", "targets", "confidence_note", "labels"] {
            assert!(goal.iter().any(|w| w == f), "{f} in {goal:?}");
        }
        for f in ["name", "state", "etag", "revision", "create_time", "ancestors"] {
            assert!(!goal.iter().any(|w| w == f), "{f} in {goal:?}");
        }
        let partner = Partners::writable();
        assert!(partner.iter().any(|w| w == "members"), "{partner:?}");
        assert!(
            !partner.iter().any(|w| w == "kind" || w == "memberships"),
            "{partner:?}"
        );
    }
}
