//! The human file schema of `seeds/`, `import`, `export` and `create`/`update -f`, and its
//! conversions to and from the protobuf types.
//!
//! Raw proto JSON is not what people want to write by hand: ids instead of resource names
//! (`parent: manufacturing-ax`), short enum names (`pillar: INDUSTRIAL_RESURGENCE`), partial
//! dates as `2030` / `2030-06` / `2030-06-01`, and empty fields left out. The plain fields of
//! a record (text, numbers, bools, enums) come from the proto descriptors ([`Plain`], flattened
//! into the record); only the fields whose file form differs from the proto's, and the nested
//! targets, milestones, risks, agreements and engagements, are written out here.

use std::collections::BTreeMap;

use registry_client::pb;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{
    plain::{Plain, Shape},
    product_sets::PRODUCT_SETS,
};

/// Collection prefix of goal names.
pub const GOALS: &str = "policyGoals/";
/// Collection prefix of partner names.
pub const PARTNERS: &str = "tradePartners/";
/// Collection prefix of agreement names.
pub const AGREEMENTS: &str = "agreements/";
/// Korea's partner id: implied party to every agreement.
pub const KOREA: &str = "kr";

/// A policy goal as written in a file.
///
/// Unknown keys are refused by [`Plain`]'s deserializer (`deny_unknown_fields` does not work
/// with `flatten`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GoalRecord {
    /// `[a-z][a-z0-9-]{0,62}`; the goal is `policyGoals/{id}`.
    pub id: String,
    /// The plain fields of the proto message (title, title_ko, description, confidence, …).
    #[serde(flatten)]
    pub fields: Plain<GoalShape>,
    /// Required for a root goal; a child inherits its parent's (export leaves it out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pillar: Option<String>,
    /// The parent goal's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Lifecycle state; when absent, import leaves the stored state alone (new goals are
    /// UNSPECIFIED: not stated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Outcome of a CLOSED goal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sectors: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<TargetRecord>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub milestones: Vec<MilestoneRecord>,
    /// Partner ids (`us`) or names (`tradePartners/us`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub linked_partners: Vec<String>,
    /// Organisations contributing besides the lead.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contributing_organizations: Vec<String>,
    /// Ids (`regional-growth-engines`) or names of other goals this one contributes to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contributes_to: Vec<String>,
    /// Product set ids (`critical-minerals`) or names the goal concerns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub product_sets: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub risks: Vec<RiskRecord>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// Declares the [`Shape`]s of the records: a proto message and the scalar fields the record
/// spells on its own (every other plain field comes from the descriptor).
macro_rules! shapes {
    ($($(#[$doc:meta])* $shape:ident = $message:literal, special $special:expr;)*) => {$(
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $shape;

        impl Shape for $shape {
            const MESSAGE: &'static str = $message;
            const SPECIAL: &'static [&'static str] = $special;
        }
    )*};
}

shapes! {
    /// [`GoalRecord`]'s: pillar (a child's is its parent's, left out), parent (an id), state
    /// and outcome (reached through ChangePolicyGoalState after the write).
    GoalShape = "motie.registry.v1.PolicyGoal", special &["pillar", "parent", "state", "outcome"];
    /// [`PartnerRecord`]'s: kind (always written: required and immutable).
    PartnerShape = "motie.registry.v1.TradePartner", special &["kind"];
    /// [`RiskEntryRecord`]'s: every scalar field plain (goals and partners are lists).
    RiskEntryShape = "motie.registry.v1.RiskEntry", special &[];
    /// A risk: every field plain.
    RiskShape = "motie.registry.v1.Risk", special &[];
    /// [`AgreementRecord`]'s: every scalar field plain (parties, events and labels are lists).
    AgreementShape = "motie.registry.v1.TradeAgreement", special &[];
    /// An agreement's event: every field plain (the date a partial date).
    AgreementEventShape = "motie.registry.v1.AgreementEvent", special &[];
    /// A milestone's: `due_date` (written `due`).
    MilestoneShape = "motie.registry.v1.Milestone", special &["due_date"];
    /// An engagement: every scalar field plain but `agreement` (an id); its linked goals are
    /// a list.
    EngagementShape = "motie.registry.v1.Engagement", special &["agreement"];
    /// An interim target: every field plain.
    InterimShape = "motie.registry.v1.InterimTarget", special &[];
}

/// A measurable target.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetRecord {
    pub metric: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default)]
    pub unit: String,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_number")]
    pub baseline_value: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_date: Option<DateValue>,
    #[serde(with = "number")]
    pub target_value: f64,
    /// INCREASE_TO, DECREASE_TO, STAY_ABOVE, STAY_BELOW, or the relative INCREASE_BY,
    /// DECREASE_BY (a change from `baseline_value`).
    pub direction: String,
    /// AT_LEAST, MORE_THAN, AT_MOST, LESS_THAN, EXACTLY; defaults by direction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparator: Option<String>,
    pub target_year: i32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interim_targets: Vec<InterimRecord>,
    /// INCREASE_BY / DECREASE_BY: `target_value` is a percentage of the baseline.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub percent_of_baseline: bool,
}

/// A phased target on the way (`year`, `value`): the fields of the proto's `InterimTarget`.
pub type InterimRecord = Plain<InterimShape>;

/// A dated milestone: the plain fields of the proto's `Milestone` (title, description, state;
/// unspecified when not given) and `due` (the proto's `due_date`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MilestoneRecord {
    #[serde(flatten)]
    pub fields: Plain<MilestoneShape>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<DateValue>,
}

/// A risk (`category`, `severity`, `title`, `description`): the fields of the proto's `Risk`.
pub type RiskRecord = Plain<RiskShape>;

/// Converts the elements of a list field (`risks`), collecting every problem.
fn elements<S: Shape, M: prost::Message + Default>(p: &mut Problems, field: &str, items: &[Plain<S>]) -> Vec<M> {
    elements_with(p, field, items, |r| r, |_, _| {})
}

/// [`elements`] of records that hold their plain fields in `plain` and set the rest in `extra`.
fn elements_with<R, S: Shape, M: prost::Message + Default>(
    p: &mut Problems,
    field: &str,
    items: &[R],
    plain: impl Fn(&R) -> &Plain<S>,
    extra: impl Fn(&R, &mut M),
) -> Vec<M> {
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match plain(item).to_element(&format!("{field}[{i}]")) {
            Ok(mut m) => {
                extra(item, &mut m);
                out.push(m);
            }
            Err(e) => p.0.extend(e),
        }
    }
    out
}

/// A possibly partial date: `2030`, `2030-06` or `2030-06-01`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DateValue {
    pub year: i32,
    pub month: i32,
    pub day: i32,
}

impl std::fmt::Display for DateValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.month, self.day) {
            (0, _) => write!(f, "{:04}", self.year),
            (m, 0) => write!(f, "{:04}-{m:02}", self.year),
            (m, d) => write!(f, "{:04}-{m:02}-{d:02}", self.year),
        }
    }
}

impl std::str::FromStr for DateValue {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("invalid date {s:?}: expected YYYY, YYYY-MM or YYYY-MM-DD");
        let mut parts = s.trim().split('-');
        let mut next = |required: bool| -> Result<i32, String> {
            match parts.next() {
                Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().map_err(|_| bad()),
                Some(_) => Err(bad()),
                None if required => Err(bad()),
                None => Ok(0),
            }
        };
        let date = DateValue {
            year: next(true)?,
            month: next(false)?,
            day: next(false)?,
        };
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(date)
    }
}

impl Serialize for DateValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.month == 0 {
            s.serialize_i32(self.year)
        } else {
            s.serialize_str(&self.to_string())
        }
    }
}

impl<'de> Deserialize<'de> for DateValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Year(i32),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Year(year) => Ok(DateValue { year, month: 0, day: 0 }),
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

impl DateValue {
    fn to_pb(self) -> pb::Date {
        pb::Date {
            year: self.year,
            month: self.month,
            day: self.day,
        }
    }
    fn from_pb(d: &pb::Date) -> Self {
        DateValue {
            year: d.year,
            month: d.month,
            day: d.day,
        }
    }
}

/// Whole numbers are written without a fraction (`500`, not `500.0`).
mod number {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.fract() == 0.0 && v.abs() < 1e15 {
            #[allow(clippy::cast_possible_truncation)]
            s.serialize_i64(*v as i64)
        } else {
            s.serialize_f64(*v)
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        f64::deserialize(d)
    }
}

mod opt_number {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => super::number::serialize(v, s),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        Option::<f64>::deserialize(d)
    }
}

/// A generated protobuf enum whose value names share one prefix: value 0 is
/// `PREFIX_UNSPECIFIED`, the others `PREFIX_SHORT` (buf's ENUM_VALUE_PREFIX rule). Files and
/// tables use the short names; they are derived here, once, from prost's names.
pub trait ProtoEnum: Sized + TryFrom<i32> + Into<i32> {
    fn str_name(&self) -> &'static str;
    fn from_name(name: &str) -> Option<Self>;
    /// `PILLAR_`: the name of value 0 without `UNSPECIFIED`.
    fn prefix() -> &'static str {
        Self::try_from(0)
            .ok()
            .and_then(|v| v.str_name().strip_suffix("UNSPECIFIED"))
            .unwrap_or_default()
    }
}

macro_rules! proto_enums {
    ($($ty:ty),* $(,)?) => {$(
        impl ProtoEnum for $ty {
            fn str_name(&self) -> &'static str {
                <$ty>::as_str_name(self)
            }
            fn from_name(name: &str) -> Option<Self> {
                <$ty>::from_str_name(name)
            }
        }
    )*};
}

proto_enums!(
    pb::Pillar,
    pb::policy_goal::State,
    pb::policy_goal::Outcome,
    pb::policy_goal::Confidence,
    pb::target::Direction,
    pb::target::Comparator,
    pb::milestone::State,
    pb::RiskCategory,
    pb::RiskSeverity,
    pb::risk_entry::State,
    pb::trade_partner::Kind,
    pb::trade_partner::Priority,
    pb::trade_agreement::Kind,
    pb::trade_agreement::Status,
    pb::agreement_event::Kind,
    pb::engagement::Kind,
    pb::engagement::State,
    pb::Role,
    pb::change::Kind,
    pb::target_progress::State,
    pb::check_in::Confidence,
);

/// An enum name: short (`ACTIVE`) or full (`STATE_ACTIVE`), any case; `UNSPECIFIED` is refused.
pub fn parse_enum<E: ProtoEnum>(field: &str, value: &str) -> Result<i32, String> {
    let prefix = E::prefix();
    let upper = value.trim().to_ascii_uppercase().replace(['-', ' '], "_");
    let full = if upper.starts_with(prefix) {
        upper
    } else {
        format!("{prefix}{upper}")
    };
    match E::from_name(&full).map(Into::into) {
        Some(v) if v != 0 => Ok(v),
        _ => Err(format!("{field}: unknown value {value:?}")),
    }
}

/// The short name of an enum value (`ACTIVE`), or None for unspecified/unknown values.
pub fn enum_name<E: ProtoEnum>(v: i32) -> Option<String> {
    let value = E::try_from(v).ok()?;
    let name = value.str_name();
    let short = name.strip_prefix(E::prefix()).unwrap_or(name);
    (short != "UNSPECIFIED").then(|| short.to_owned())
}

/// Rewrites an enum name in canonical form (short, upper case); leaves a bad one alone.
pub fn canon_enum<E: ProtoEnum>(v: &mut String) {
    if let Ok(n) = parse_enum::<E>("", v)
        && let Some(s) = enum_name::<E>(n)
    {
        *v = s;
    }
}

/// [`canon_enum`] of an optional name.
pub fn canon_opt<E: ProtoEnum>(v: &mut Option<String>) {
    if let Some(s) = v.as_mut() {
        canon_enum::<E>(s);
    }
}

/// `policyGoals/x` or `x` → `x`.
pub fn goal_id(s: &str) -> &str {
    s.strip_prefix(GOALS).unwrap_or(s)
}

/// `x` or `policyGoals/x` → `policyGoals/x`.
pub fn goal_name(s: &str) -> String {
    format!("{GOALS}{}", goal_id(s))
}

/// `tradePartners/x` or `x` → `x`.
pub fn partner_id(s: &str) -> &str {
    s.strip_prefix(PARTNERS).unwrap_or(s)
}

/// `x` or `tradePartners/x` → `tradePartners/x`.
pub fn partner_name(s: &str) -> String {
    format!("{PARTNERS}{}", partner_id(s))
}

/// `x` or `productSets/x` → `productSets/x`.
pub fn product_set_name(s: &str) -> String {
    format!("{PRODUCT_SETS}{}", s.strip_prefix(PRODUCT_SETS).unwrap_or(s))
}

/// `productSets/x` names (or ids) → `x` ids.
fn product_set_ids(names: &[String]) -> Vec<String> {
    names
        .iter()
        .map(|n| n.strip_prefix(PRODUCT_SETS).unwrap_or(n).to_owned())
        .collect()
}

fn opt<T>(v: Option<&str>, parse: impl Fn(&str) -> Result<T, String>) -> Result<Option<T>, String> {
    v.map(parse).transpose()
}

/// Collects every problem of a record instead of stopping at the first.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    /// Writes the plain fields into `m`; `m`, or every problem found.
    fn finish<S: Shape, M: prost::Message + Default>(mut self, fields: &Plain<S>, mut m: M) -> Result<M, Vec<String>> {
        if let Err(e) = fields.apply(&mut m) {
            self.0.extend(e);
        }
        if self.0.is_empty() { Ok(m) } else { Err(self.0) }
    }

    fn take<T: Default>(&mut self, r: Result<T, String>) -> T {
        r.unwrap_or_else(|e| {
            self.0.push(e);
            T::default()
        })
    }
}

/// Adds a problem to `problems` unless `id` (the record's, `given` as written) is a slug.
pub fn check_id(problems: &mut Vec<String>, id: &str, given: &str) {
    if !is_slug(id) {
        problems.push(format!("id: {given:?} is not a valid id ([a-z][a-z0-9-]{{0,62}})"));
    }
}

/// True for `[a-z][a-z0-9-]{0,62}`.
pub fn is_slug(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

impl GoalRecord {
    /// The protobuf goal (name set). Checks what can be checked locally (ids, enum names);
    /// the server checks the rest.
    pub fn to_pb(&self) -> Result<pb::PolicyGoal, Vec<String>> {
        let mut p = Problems::default();
        check_id(&mut p.0, &self.id, &self.id);
        let pillar = p
            .take(opt(self.pillar.as_deref(), |v| parse_enum::<pb::Pillar>("pillar", v)))
            .unwrap_or(0);
        let state = p
            .take(opt(self.state.as_deref(), |v| {
                parse_enum::<pb::policy_goal::State>("state", v)
            }))
            .unwrap_or(0);
        let outcome = p
            .take(opt(self.outcome.as_deref(), |v| {
                parse_enum::<pb::policy_goal::Outcome>("outcome", v)
            }))
            .unwrap_or(0);
        let mut targets = Vec::new();
        for (i, t) in self.targets.iter().enumerate() {
            let f = format!("targets[{i}]");
            targets.push(pb::Target {
                metric: t.metric.clone(),
                description: t.description.clone(),
                unit: t.unit.clone(),
                baseline_value: t.baseline_value,
                baseline_date: t.baseline_date.map(DateValue::to_pb),
                target_value: t.target_value,
                direction: p.take(parse_enum::<pb::target::Direction>(
                    &format!("{f}.direction"),
                    &t.direction,
                )),
                comparator: p
                    .take(opt(t.comparator.as_deref(), |v| {
                        parse_enum::<pb::target::Comparator>(&format!("{f}.comparator"), v)
                    }))
                    .unwrap_or(0),
                target_year: t.target_year,
                interim_targets: elements(&mut p, &format!("{f}.interim_targets"), &t.interim_targets),
                progress: None,
                percent_of_baseline: t.percent_of_baseline,
            });
        }
        let milestones = elements_with(
            &mut p,
            "milestones",
            &self.milestones,
            |m| &m.fields,
            |m, pb: &mut pb::Milestone| pb.due_date = m.due.map(DateValue::to_pb),
        );
        let risks = elements(&mut p, "risks", &self.risks);
        let goal = pb::PolicyGoal {
            name: goal_name(&self.id),
            pillar,
            parent: self.parent.as_deref().map(goal_name).unwrap_or_default(),
            sectors: self.sectors.clone(),
            regions: self.regions.clone(),
            state,
            outcome,
            targets,
            milestones,
            linked_partners: self
                .linked_partners
                .iter()
                .map(|l| format!("{PARTNERS}{}", partner_id(l)))
                .collect(),
            contributing_organizations: self.contributing_organizations.clone(),
            contributes_to: self.contributes_to.iter().map(|g| goal_name(g)).collect(),
            product_sets: self.product_sets.iter().map(|s| product_set_name(s)).collect(),
            risks,
            labels: self.labels.clone().into_iter().collect(),
            ..Default::default()
        };
        p.finish(&self.fields, goal)
    }

    /// The record of a stored goal, in canonical form (see [`GoalRecord::canonical`]).
    pub fn from_pb(g: &pb::PolicyGoal) -> GoalRecord {
        GoalRecord {
            id: goal_id(&g.name).to_owned(),
            fields: Plain::from_message(g),
            pillar: enum_name::<pb::Pillar>(g.pillar),
            parent: (!g.parent.is_empty()).then(|| goal_id(&g.parent).to_owned()),
            state: enum_name::<pb::policy_goal::State>(g.state),
            outcome: enum_name::<pb::policy_goal::Outcome>(g.outcome),
            sectors: g.sectors.clone(),
            regions: g.regions.clone(),
            targets: g
                .targets
                .iter()
                .map(|t| TargetRecord {
                    metric: t.metric.clone(),
                    description: t.description.clone(),
                    unit: t.unit.clone(),
                    baseline_value: t.baseline_value,
                    baseline_date: t.baseline_date.as_ref().map(DateValue::from_pb),
                    target_value: t.target_value,
                    direction: enum_name::<pb::target::Direction>(t.direction).unwrap_or_default(),
                    comparator: enum_name::<pb::target::Comparator>(t.comparator),
                    target_year: t.target_year,
                    interim_targets: t.interim_targets.iter().map(Plain::from_message).collect(),
                    percent_of_baseline: t.percent_of_baseline,
                })
                .collect(),
            milestones: g
                .milestones
                .iter()
                .map(|m| MilestoneRecord {
                    fields: Plain::from_message(m),
                    due: m.due_date.as_ref().map(DateValue::from_pb),
                })
                .collect(),
            linked_partners: g.linked_partners.iter().map(|l| partner_id(l).to_owned()).collect(),
            contributing_organizations: g.contributing_organizations.clone(),
            contributes_to: g.contributes_to.iter().map(|c| goal_id(c).to_owned()).collect(),
            product_sets: product_set_ids(&g.product_sets),
            risks: g.risks.iter().map(Plain::from_message).collect(),
            labels: g.labels.clone().into_iter().collect(),
        }
        .canonical()
    }

    /// The form in which two records that mean the same are equal: ids instead of names,
    /// short upper-case enum names, defaults the server would fill in made explicit
    /// (comparator by direction, outcome only when CLOSED), and a
    /// child's pillar left out (it always is its parent's).
    pub fn canonical(&self) -> GoalRecord {
        let mut r = self.clone();
        r.id = goal_id(&r.id).to_owned();
        if let Some(parent) = &r.parent {
            r.parent = Some(goal_id(parent).to_owned()).filter(|p| !p.is_empty());
        }
        if r.parent.is_some() {
            r.pillar = None;
        }
        canon_opt::<pb::Pillar>(&mut r.pillar);
        canon_opt::<pb::policy_goal::State>(&mut r.state);
        canon_opt::<pb::policy_goal::Outcome>(&mut r.outcome);
        r.fields = r.fields.canonical();
        for t in &mut r.targets {
            t.interim_targets = t.interim_targets.iter().map(Plain::canonical).collect();
            canon_enum::<pb::target::Direction>(&mut t.direction);
            canon_opt::<pb::target::Comparator>(&mut t.comparator);
            if t.comparator.is_none() {
                t.comparator = Some(
                    match t.direction.as_str() {
                        "INCREASE_TO" | "STAY_ABOVE" | "INCREASE_BY" | "DECREASE_BY" => "AT_LEAST",
                        _ => "AT_MOST",
                    }
                    .to_owned(),
                );
            }
        }
        for m in &mut r.milestones {
            m.fields = m.fields.canonical();
        }
        r.risks = r.risks.iter().map(Plain::canonical).collect();
        for l in &mut r.linked_partners {
            *l = partner_id(l).to_owned();
        }
        for c in &mut r.contributes_to {
            *c = goal_id(c).to_owned();
        }
        r.product_sets = product_set_ids(&r.product_sets);
        r
    }
}

/// A goal as shown by `get`/`list` (json/yaml): the file schema plus the output-only fields.
#[derive(Debug, Clone, Serialize)]
pub struct GoalView {
    pub name: String,
    #[serde(flatten)]
    pub record: GoalRecord,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ancestors: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub progress: Vec<ProgressView>,
    /// Live entries of the risk register that link the goal, by id.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub risk_register: Vec<String>,
    /// The dependent products behind the goal (`get` only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dependent_products: Vec<DependentProductView>,
    /// The newest check-in: the owner's latest stated confidence, beside the computed
    /// `progress`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest_check_in: Option<CheckInView>,
    #[serde(flatten)]
    pub stamp: Stamp,
}

/// A dependent product behind a goal or a partner's risks.
#[derive(Debug, Clone, Serialize)]
pub struct DependentProductView {
    pub product: String,
    pub year: i32,
    pub importer: String,
    pub top_supplier: String,
    pub top_supplier_share: f64,
    pub import_hhi: f64,
    /// Ids of the product sets that bring it in.
    pub product_sets: Vec<String>,
    /// Ids of the risks that bring it in (none: the goal's own sets).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub risks: Vec<String>,
    pub explanation: String,
}

impl DependentProductView {
    pub fn new(d: &pb::DependentProduct) -> DependentProductView {
        DependentProductView {
            product: d.product.clone(),
            year: d.year,
            importer: d.importer.clone(),
            top_supplier: d.top_supplier.clone(),
            top_supplier_share: d.top_supplier_share,
            import_hhi: d.import_hhi,
            product_sets: product_set_ids(&d.product_sets),
            risks: risk_ids(&d.risks),
            explanation: d.explanation.clone(),
        }
    }

    /// One line of `get`'s table: `811292 2023: CN 90.0%, import HHI 0.820 (critical-minerals; risk x)`.
    pub fn line(&self) -> String {
        let mut via = self.product_sets.join(", ");
        if !self.risks.is_empty() {
            via.push_str(&format!("; risks {}", self.risks.join(", ")));
        }
        format!(
            "{} {}: {} {:.1}%, import HHI {:.3} ({via})",
            self.product,
            self.year,
            self.top_supplier,
            self.top_supplier_share * 100.0,
            self.import_hhi
        )
    }
}

/// Computed progress of one target.
#[derive(Debug, Clone, Serialize)]
pub struct ProgressView {
    pub metric: String,
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest_value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent_complete: Option<f64>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub explanation: String,
}

/// The keys of a [`Stamp`] and `name`: set by the server on every resource.
pub const STAMP_KEYS: &[&str] = &[
    "name",
    "etag",
    "revision",
    "create_time",
    "update_time",
    "delete_time",
    "expire_time",
];

/// What the server stamps on every resource, as shown by `get`/`list` (json/yaml).
#[derive(Debug, Clone, Serialize)]
pub struct Stamp {
    pub etag: String,
    pub revision: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub create_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expire_time: Option<String>,
}

type Time = Option<registry_client::prost_types::Timestamp>;

impl Stamp {
    /// From the etag, revision and create, update, delete and expire times.
    pub fn new(etag: &str, revision: i64, [create, update, delete, expire]: [&Time; 4]) -> Stamp {
        Stamp {
            etag: etag.to_owned(),
            revision,
            create_time: ts(create.as_ref()),
            update_time: ts(update.as_ref()),
            delete_time: ts(delete.as_ref()),
            expire_time: ts(expire.as_ref()),
        }
    }

    /// The rows of `get`'s table.
    pub fn rows(&self) -> [(&'static str, String); 6] {
        let t = |v: &Option<String>| v.clone().unwrap_or_default();
        [
            ("etag", self.etag.clone()),
            ("revision", self.revision.to_string()),
            ("created", t(&self.create_time)),
            ("updated", t(&self.update_time)),
            ("deleted", t(&self.delete_time)),
            ("expires", t(&self.expire_time)),
        ]
    }
}

/// A resource message: it has the fields the server stamps on every resource.
pub trait Stamped {
    /// Its [`Stamp`].
    fn stamp(&self) -> Stamp;
}

macro_rules! stamped {
    ($($pb:ty),* $(,)?) => {$(
        impl Stamped for $pb {
            fn stamp(&self) -> Stamp {
                let times = [&self.create_time, &self.update_time, &self.delete_time, &self.expire_time];
                Stamp::new(&self.etag, self.revision, times)
            }
        }
    )*};
}

stamped!(
    pb::PolicyGoal,
    pb::TradePartner,
    pb::TradeAgreement,
    pb::RiskEntry,
    pb::ProductSet
);

/// RFC 3339 text of a timestamp.
pub fn ts(t: Option<&registry_client::prost_types::Timestamp>) -> Option<String> {
    t.map(ToString::to_string)
}

impl GoalView {
    pub fn new(g: &pb::PolicyGoal) -> GoalView {
        let mut record = GoalRecord::from_pb(g);
        // Shown as stored: the pillar of a child too.
        record.pillar = enum_name::<pb::Pillar>(g.pillar);
        GoalView {
            name: g.name.clone(),
            record,
            ancestors: g.ancestors.clone(),
            risk_register: risk_ids(&g.risk_register),
            dependent_products: g.dependent_products.iter().map(DependentProductView::new).collect(),
            latest_check_in: g.latest_check_in.as_deref().map(CheckInView::new),
            progress: g
                .targets
                .iter()
                .filter_map(|t| {
                    let p = t.progress.as_ref()?;
                    Some(ProgressView {
                        metric: t.metric.clone(),
                        state: enum_name::<pb::target_progress::State>(p.state).unwrap_or_default(),
                        latest_value: p.latest_value,
                        percent_complete: p.percent_complete,
                        explanation: p.explanation.clone(),
                    })
                })
                .collect(),
            stamp: g.stamp(),
        }
    }
}

/// A check-in on a goal as written in a file: `goal` and `id` make its name
/// (`policyGoals/{goal}/checkIns/{id}`); `confidence` is ON_TRACK, AT_RISK or OFF_TRACK.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckInRecord {
    /// A slug, unique in the registry.
    pub id: String,
    /// The goal's id (`manufacturing-ax`) or name.
    pub goal: String,
    /// The time the status refers to: RFC 3339 or a date (`2026-03-31`, midnight UTC); when
    /// absent, the time of the import.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub check_in_time: String,
    pub confidence: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
    /// When absent, the importing token's id.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub author: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub quote: String,
    /// `goal/id`: the key of the check-in in an import (set by [`CheckInRecord::keyed`]).
    #[serde(skip)]
    pub key: String,
}

/// A check-in time: RFC 3339, or a date `YYYY-MM-DD` (its midnight UTC).
pub fn parse_check_in_time(field: &str, s: &str) -> Result<registry_client::prost_types::Timestamp, String> {
    let full = if s.len() == 10 {
        format!("{s}T00:00:00Z")
    } else {
        s.to_owned()
    };
    full.parse()
        .map_err(|_| format!("{field}: {s:?} is neither a date (2026-03-31) nor an RFC 3339 time"))
}

impl CheckInRecord {
    /// The record of a stored check-in, and its etag (none: never updated).
    pub fn stored(c: &pb::CheckIn) -> (CheckInRecord, String) {
        (CheckInRecord::from_pb(c), String::new())
    }

    /// The record with its goal as an id and its key set.
    pub fn keyed(mut self) -> CheckInRecord {
        self.goal = goal_id(&self.goal).to_owned();
        self.key = format!("{}/{}", self.goal, self.id);
        self
    }

    /// `policyGoals/{goal}/checkIns/{id}`.
    pub fn name(&self) -> String {
        format!("{}/checkIns/{}", goal_name(&self.goal), self.id)
    }

    /// The check-in to create (every problem, not just the first).
    pub fn to_pb(&self) -> Result<pb::CheckIn, Vec<String>> {
        let mut problems = Vec::new();
        if !is_slug(&self.id) {
            problems.push(format!("id: {:?} is not a slug ([a-z][a-z0-9-]{{0,62}})", self.id));
        }
        if !is_slug(goal_id(&self.goal)) {
            problems.push(format!("goal: {:?} is not a goal id", self.goal));
        }
        let confidence = parse_enum::<pb::check_in::Confidence>("confidence", &self.confidence)
            .map_err(|e| problems.push(format!("{e}; one of ON_TRACK, AT_RISK, OFF_TRACK")))
            .unwrap_or_default();
        let check_in_time = (!self.check_in_time.is_empty())
            .then(|| parse_check_in_time("check_in_time", &self.check_in_time))
            .transpose()
            .map_err(|e| problems.push(e))
            .unwrap_or_default();
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(pb::CheckIn {
            check_in_time,
            confidence,
            note: self.note.clone(),
            author: self.author.clone(),
            source: self.source.clone(),
            quote: self.quote.clone(),
            ..Default::default()
        })
    }

    pub fn from_pb(c: &pb::CheckIn) -> CheckInRecord {
        let (goal, id) = c
            .name
            .strip_prefix(GOALS)
            .and_then(|rest| rest.split_once("/checkIns/"))
            .unwrap_or_default();
        CheckInRecord {
            id: id.to_owned(),
            goal: goal.to_owned(),
            check_in_time: ts(c.check_in_time.as_ref()).unwrap_or_default(),
            confidence: enum_name::<pb::check_in::Confidence>(c.confidence).unwrap_or_default(),
            note: c.note.clone(),
            author: c.author.clone(),
            source: c.source.clone(),
            quote: c.quote.clone(),
            key: String::new(),
        }
        .keyed()
    }

    /// True when importing `self` over `stored` would create nothing: the same check-in
    /// (an absent time or author in the file is whatever the server chose).
    pub fn same(&self, stored: &CheckInRecord) -> bool {
        let time = |r: &CheckInRecord| r.to_pb().ok().and_then(|c| c.check_in_time);
        self.goal == stored.goal
            && canon(&self.confidence) == stored.confidence
            && (self.check_in_time.is_empty() || time(self) == time(stored))
            && (self.author.is_empty() || self.author == stored.author)
            && (self.note.as_str(), self.source.as_str(), self.quote.as_str())
                == (stored.note.as_str(), stored.source.as_str(), stored.quote.as_str())
    }
}

/// The canonical short name of a confidence (`at-risk` → `AT_RISK`).
fn canon(confidence: &str) -> String {
    let mut c = confidence.to_owned();
    canon_enum::<pb::check_in::Confidence>(&mut c);
    c
}

/// A check-in as shown by `goals check-in`, `goals check-ins` and in a goal (json/yaml).
#[derive(Debug, Clone, Serialize)]
pub struct CheckInView {
    pub name: String,
    #[serde(flatten)]
    pub record: CheckInRecord,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub create_time: Option<String>,
    pub creator: String,
}

impl CheckInView {
    pub fn new(c: &pb::CheckIn) -> CheckInView {
        CheckInView {
            name: c.name.clone(),
            record: CheckInRecord::from_pb(c),
            create_time: ts(c.create_time.as_ref()),
            creator: c.creator.clone(),
        }
    }

    /// One line: `AT_RISK on 2026-03-31 by alice: the note`.
    pub fn summary(&self) -> String {
        let r = &self.record;
        let day = r.check_in_time.get(..10).unwrap_or(&r.check_in_time);
        let note = if r.note.is_empty() {
            String::new()
        } else {
            format!(": {}", r.note)
        };
        format!("{} on {day} by {}{note}", r.confidence, r.author)
    }
}

/// A trade partner as written in a file (unknown keys are refused by [`Plain`]).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PartnerRecord {
    /// A country's lower-case ISO 3166-1 alpha-2 code (`us`), else a slug (`asean`); the
    /// partner is `tradePartners/{id}`.
    pub id: String,
    /// COUNTRY, ECONOMIC_BLOC, FORUM or GROUP (immutable).
    #[serde(default)]
    pub kind: String,
    /// The plain fields of the proto message (display_name, region, priority, …).
    #[serde(flatten)]
    pub fields: Plain<PartnerShape>,
    /// Member partner ids (blocs, forums and groups only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub engagements: Vec<EngagementRecord>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub risks: Vec<RiskRecord>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// An agreement as written in a file (unknown keys are refused by [`Plain`]).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AgreementRecord {
    /// A slug; the agreement is `agreements/{id}`.
    pub id: String,
    /// The plain fields of the proto message (title, title_ko, kind, description, source).
    #[serde(flatten)]
    pub fields: Plain<AgreementShape>,
    /// Partner ids (`us`); Korea (`kr`) is implied and may be listed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parties: Vec<String>,
    /// Dated lifecycle events; the status follows from them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<AgreementEventRecord>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// One event of an agreement (`kind`, `date` as `2007`, `2007-06` or `2007-06-30`,
/// `source`, `note`): the fields of the proto's `AgreementEvent`.
pub type AgreementEventRecord = Plain<AgreementEventShape>;

/// `x` or `agreements/x` → `x`.
pub fn agreement_id(s: &str) -> &str {
    s.strip_prefix(AGREEMENTS).unwrap_or(s)
}

impl AgreementRecord {
    /// The protobuf agreement (name set). Checks ids and enum names locally.
    pub fn to_pb(&self) -> Result<pb::TradeAgreement, Vec<String>> {
        let mut p = Problems::default();
        check_id(&mut p.0, agreement_id(&self.id), &self.id);
        let events = elements(&mut p, "events", &self.events);
        let agreement = pb::TradeAgreement {
            name: format!("{AGREEMENTS}{}", agreement_id(&self.id)),
            parties: self.parties.iter().map(|m| partner_name(m)).collect(),
            events,
            labels: self.labels.clone().into_iter().collect(),
            ..Default::default()
        };
        p.finish(&self.fields, agreement)
    }

    /// The record of a stored agreement, in canonical form.
    pub fn from_pb(a: &pb::TradeAgreement) -> AgreementRecord {
        AgreementRecord {
            id: agreement_id(&a.name).to_owned(),
            fields: Plain::from_message(a),
            parties: a.parties.iter().map(|m| partner_id(m).to_owned()).collect(),
            events: a.events.iter().map(Plain::from_message).collect(),
            labels: a.labels.clone().into_iter().collect(),
        }
        .canonical()
    }

    /// The form in which two records that mean the same are equal: ids instead of names,
    /// short upper-case enum names.
    pub fn canonical(&self) -> AgreementRecord {
        let mut r = self.clone();
        r.id = agreement_id(&r.id).to_owned();
        r.fields = r.fields.canonical();
        for m in &mut r.parties {
            *m = partner_id(m).to_owned();
        }
        r.events = r.events.iter().map(Plain::canonical).collect();
        r
    }
}

/// An agreement as shown by `get`/`list` (json/yaml): the file schema plus its status.
#[derive(Debug, Clone, Serialize)]
pub struct AgreementView {
    pub name: String,
    #[serde(flatten)]
    pub record: AgreementRecord,
    /// From the events; `UNKNOWN` when none is recorded.
    pub status: String,
    #[serde(flatten)]
    pub stamp: Stamp,
}

impl AgreementView {
    pub fn new(a: &pb::TradeAgreement) -> AgreementView {
        AgreementView {
            name: a.name.clone(),
            record: AgreementRecord::from_pb(a),
            status: enum_name::<pb::trade_agreement::Status>(a.status).unwrap_or_else(|| "UNKNOWN".to_owned()),
            stamp: a.stamp(),
        }
    }
}

/// A negotiation, summit, dialogue or other engagement: the plain fields of the proto's
/// `Engagement` (title, kind, state (unspecified when not given), next_step, description, date) and
/// the linked goals by id.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EngagementRecord {
    #[serde(flatten)]
    pub fields: Plain<EngagementShape>,
    /// Goal ids; they must exist when the partner is written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub linked_goals: Vec<String>,
    /// The id of the agreement the engagement follows up; it must exist when the partner is
    /// written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreement: Option<String>,
}

/// Trade with one partner in one year.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowRecord {
    /// Partner id.
    pub partner: String,
    pub year: i32,
    /// Exports to the partner, USD.
    pub exports_usd: i64,
    /// Imports from the partner, USD.
    pub imports_usd: i64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub estimated: bool,
    /// `us/2024`: the key of the flow in an import (set by [`FlowRecord::keyed`]).
    #[serde(skip)]
    pub key: String,
}

impl FlowRecord {
    /// The record of a stored flow, and its etag.
    pub fn stored(f: &pb::TradeFlow) -> (FlowRecord, String) {
        (FlowRecord::from_pb(f), f.etag.clone())
    }

    /// The record with its partner as an id and its key set.
    pub fn keyed(mut self) -> FlowRecord {
        self.partner = partner_id(&self.partner).to_owned();
        self.key = format!("{}/{}", self.partner, self.year);
        self
    }

    /// `tradePartners/us/tradeFlows/2024`.
    pub fn name(&self) -> String {
        format!("{}/tradeFlows/{}", partner_name(&self.partner), self.year)
    }

    pub fn to_pb(&self) -> pb::TradeFlow {
        pb::TradeFlow {
            name: self.name(),
            year: self.year,
            exports_usd: self.exports_usd,
            imports_usd: self.imports_usd,
            source: self.source.clone(),
            estimated: self.estimated,
            ..Default::default()
        }
    }

    pub fn from_pb(f: &pb::TradeFlow) -> FlowRecord {
        let partner = f.name.split("/tradeFlows/").next().unwrap_or_default();
        FlowRecord {
            partner: partner_id(partner).to_owned(),
            year: f.year,
            exports_usd: f.exports_usd,
            imports_usd: f.imports_usd,
            source: f.source.clone(),
            estimated: f.estimated,
            key: String::new(),
        }
        .keyed()
    }

    /// Local checks.
    pub fn check(&self) -> Result<(), Vec<String>> {
        let mut p = Vec::new();
        if !is_slug(partner_id(&self.partner)) {
            p.push(format!("partner: {:?} is not a partner id", self.partner));
        }
        if !(1900..=2200).contains(&self.year) {
            p.push(format!("year: {} is out of range", self.year));
        }
        if self.exports_usd < 0 {
            p.push("exports_usd: must not be negative".into());
        }
        if self.imports_usd < 0 {
            p.push("imports_usd: must not be negative".into());
        }
        if p.is_empty() { Ok(()) } else { Err(p) }
    }
}

impl PartnerRecord {
    /// The protobuf partner (name set). Checks ids and enum names locally.
    pub fn to_pb(&self) -> Result<pb::TradePartner, Vec<String>> {
        let mut p = Problems::default();
        check_id(&mut p.0, &self.id, &self.id);
        let kind = if self.kind.is_empty() {
            0
        } else {
            p.take(parse_enum::<pb::trade_partner::Kind>("kind", &self.kind))
        };
        let engagements = elements_with(
            &mut p,
            "engagements",
            &self.engagements,
            |e| &e.fields,
            |e, pb: &mut pb::Engagement| {
                pb.linked_goals = e.linked_goals.iter().map(|g| goal_name(g)).collect();
                pb.agreement = e
                    .agreement
                    .as_deref()
                    .map(|a| format!("{AGREEMENTS}{}", agreement_id(a)))
                    .unwrap_or_default();
            },
        );
        let risks = elements(&mut p, "risks", &self.risks);
        let partner = pb::TradePartner {
            name: partner_name(&self.id),
            kind,
            members: self.members.iter().map(|m| partner_name(m)).collect(),
            engagements,
            risks,
            labels: self.labels.clone().into_iter().collect(),
            ..Default::default()
        };
        p.finish(&self.fields, partner)
    }

    /// The record of a stored partner, in canonical form.
    pub fn from_pb(t: &pb::TradePartner) -> PartnerRecord {
        PartnerRecord {
            id: partner_id(&t.name).to_owned(),
            kind: enum_name::<pb::trade_partner::Kind>(t.kind).unwrap_or_default(),
            fields: Plain::from_message(t),
            members: t.members.iter().map(|m| partner_id(m).to_owned()).collect(),
            engagements: t
                .engagements
                .iter()
                .map(|e| EngagementRecord {
                    fields: Plain::from_message(e),
                    linked_goals: e.linked_goals.iter().map(|g| goal_id(g).to_owned()).collect(),
                    agreement: (!e.agreement.is_empty()).then(|| agreement_id(&e.agreement).to_owned()),
                })
                .collect(),
            risks: t.risks.iter().map(Plain::from_message).collect(),
            labels: t.labels.clone().into_iter().collect(),
        }
        .canonical()
    }

    /// The form in which two records that mean the same are equal: ids instead of names,
    /// short upper-case enum names.
    pub fn canonical(&self) -> PartnerRecord {
        let mut r = self.clone();
        r.id = partner_id(&r.id).to_owned();
        canon_enum::<pb::trade_partner::Kind>(&mut r.kind);
        r.fields = r.fields.canonical();
        for m in &mut r.members {
            *m = partner_id(m).to_owned();
        }
        for e in &mut r.engagements {
            e.fields = e.fields.canonical();
            for g in &mut e.linked_goals {
                *g = goal_id(g).to_owned();
            }
            if let Some(a) = &mut e.agreement {
                *a = agreement_id(a).to_owned();
            }
        }
        r.risks = r.risks.iter().map(Plain::canonical).collect();
        r
    }
}

/// A partner as shown by `get`/`list` (json/yaml): the file schema plus output-only fields.
#[derive(Debug, Clone, Serialize)]
pub struct PartnerView {
    pub name: String,
    #[serde(flatten)]
    pub record: PartnerRecord,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub memberships: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub linked_goals: Vec<String>,
    /// Ids of the live agreements the partner is party to.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trade_agreements: Vec<String>,
    /// Live entries of the risk register that link the partner, by id.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub risk_register: Vec<String>,
    /// The dependent products behind the partner's risks (`get` only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dependent_products: Vec<DependentProductView>,
    #[serde(flatten)]
    pub stamp: Stamp,
}

impl PartnerView {
    pub fn new(t: &pb::TradePartner) -> PartnerView {
        PartnerView {
            name: t.name.clone(),
            record: PartnerRecord::from_pb(t),
            memberships: t.memberships.iter().map(|m| partner_id(m).to_owned()).collect(),
            linked_goals: t.linked_goals.iter().map(|g| goal_id(g).to_owned()).collect(),
            trade_agreements: t.trade_agreements.iter().map(|a| agreement_id(a).to_owned()).collect(),
            risk_register: risk_ids(&t.risk_register),
            dependent_products: t.dependent_products.iter().map(DependentProductView::new).collect(),
            stamp: t.stamp(),
        }
    }
}

/// A trade flow as shown by `flows` (json/yaml).
#[derive(Debug, Clone, Serialize)]
pub struct FlowView {
    pub name: String,
    #[serde(flatten)]
    pub record: FlowRecord,
    pub etag: String,
    pub revision: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_time: Option<String>,
}

impl FlowView {
    pub fn new(f: &pb::TradeFlow) -> FlowView {
        FlowView {
            name: f.name.clone(),
            record: FlowRecord::from_pb(f),
            etag: f.etag.clone(),
            revision: f.revision,
            update_time: ts(f.update_time.as_ref()),
        }
    }
}

/// The contents of one data file: a section per kind of resource.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataFile {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub product_sets: Vec<crate::product_sets::ProductSetRecord>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partners: Vec<PartnerRecord>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agreements: Vec<AgreementRecord>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trade_flows: Vec<FlowRecord>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub goals: Vec<GoalRecord>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub risks: Vec<RiskEntryRecord>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub check_ins: Vec<CheckInRecord>,
}

/// `risks/`: the prefix of risk names.
pub const RISKS: &str = "risks/";

/// `risks/x` names → `x` ids.
fn risk_ids(names: &[String]) -> Vec<String> {
    names
        .iter()
        .map(|n| n.strip_prefix(RISKS).unwrap_or(n).to_owned())
        .collect()
}

/// An entry of the risk register as written in a file (unknown keys are refused by [`Plain`]).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RiskEntryRecord {
    /// A slug; the risk is `risks/{id}`.
    pub id: String,
    /// The plain fields of the proto message (title, category, likelihood, state, …).
    #[serde(flatten)]
    pub fields: Plain<RiskEntryShape>,
    /// Goal ids (or names) the risk threatens; they must exist when the risk is written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub goals: Vec<String>,
    /// Partner ids (or names) the risk concerns; they must exist when the risk is written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partners: Vec<String>,
    /// Product set ids (or names) the risk threatens; they must exist when the risk is
    /// written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub product_sets: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

impl RiskEntryRecord {
    /// The protobuf risk (name set). Checks the id and enum names locally.
    pub fn to_pb(&self) -> Result<pb::RiskEntry, Vec<String>> {
        let mut p = Problems::default();
        check_id(&mut p.0, &self.id, &self.id);
        let risk = pb::RiskEntry {
            name: format!("{RISKS}{}", self.id.strip_prefix(RISKS).unwrap_or(&self.id)),
            goals: self.goals.iter().map(|g| goal_name(g)).collect(),
            partners: self.partners.iter().map(|m| partner_name(m)).collect(),
            product_sets: self.product_sets.iter().map(|s| product_set_name(s)).collect(),
            labels: self.labels.clone().into_iter().collect(),
            ..Default::default()
        };
        p.finish(&self.fields, risk)
    }

    /// The record of a stored risk, in canonical form.
    pub fn from_pb(r: &pb::RiskEntry) -> RiskEntryRecord {
        RiskEntryRecord {
            id: r.name.strip_prefix(RISKS).unwrap_or(&r.name).to_owned(),
            fields: Plain::from_message(r),
            goals: r.goals.iter().map(|g| goal_id(g).to_owned()).collect(),
            partners: r.partners.iter().map(|m| partner_id(m).to_owned()).collect(),
            product_sets: product_set_ids(&r.product_sets),
            labels: r.labels.clone().into_iter().collect(),
        }
        .canonical()
    }

    /// The form in which two records that mean the same are equal: ids instead of names,
    /// short upper-case enum names.
    pub fn canonical(&self) -> RiskEntryRecord {
        let mut r = self.clone();
        r.id = r.id.strip_prefix(RISKS).unwrap_or(&r.id).to_owned();
        r.fields = r.fields.canonical();
        for g in &mut r.goals {
            *g = goal_id(g).to_owned();
        }
        for m in &mut r.partners {
            *m = partner_id(m).to_owned();
        }
        r.product_sets = product_set_ids(&r.product_sets);
        r
    }
}

/// A risk as shown by `get`/`list` (json/yaml): the file schema plus output-only fields.
#[derive(Debug, Clone, Serialize)]
pub struct RiskEntryView {
    pub name: String,
    #[serde(flatten)]
    pub record: RiskEntryRecord,
    #[serde(flatten)]
    pub stamp: Stamp,
}

impl RiskEntryView {
    pub fn new(r: &pb::RiskEntry) -> RiskEntryView {
        RiskEntryView {
            name: r.name.clone(),
            record: RiskEntryRecord::from_pb(r),
            stamp: r.stamp(),
        }
    }
}

/// Parses a flag value `key=value`.
pub fn parse_label(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_in_every_precision() {
        for s in ["2030", "2030-06", "2030-06-01"] {
            let d: DateValue = s.parse().unwrap();
            assert_eq!(d.to_string(), s);
        }
        assert!("2030-x".parse::<DateValue>().is_err());
        assert!("2030-01-02-03".parse::<DateValue>().is_err());
        let y: MilestoneRecord = serde_norway::from_str("title: t\ndue: 2026\n").unwrap();
        assert_eq!(
            y.due,
            Some(DateValue {
                year: 2026,
                month: 0,
                day: 0
            })
        );
        assert_eq!(serde_norway::to_string(&y).unwrap(), "title: t\ndue: 2026\n");
    }

    #[test]
    fn enums_accept_short_full_and_lower_case_names() {
        let ok = pb::Pillar::IndustrialResurgence as i32;
        assert_eq!(parse_enum::<pb::Pillar>("pillar", "INDUSTRIAL_RESURGENCE"), Ok(ok));
        assert_eq!(
            parse_enum::<pb::Pillar>("pillar", "PILLAR_INDUSTRIAL_RESURGENCE"),
            Ok(ok)
        );
        assert_eq!(parse_enum::<pb::Pillar>("pillar", "industrial-resurgence"), Ok(ok));
        assert!(parse_enum::<pb::Pillar>("pillar", "UNSPECIFIED").is_err());
        assert!(parse_enum::<pb::Pillar>("pillar", "nope").is_err());
        assert_eq!(enum_name::<pb::Pillar>(ok).as_deref(), Some("INDUSTRIAL_RESURGENCE"));
        assert_eq!(enum_name::<pb::Pillar>(0), None);
    }

    #[test]
    fn whole_numbers_are_written_without_fraction() {
        for (text, written) in [
            ("year: 2030\nvalue: 500.0\n", "year: 2030\nvalue: 500\n"),
            ("year: 2030\nvalue: 2.5\n", "year: 2030\nvalue: 2.5\n"),
        ] {
            let t: InterimRecord = serde_norway::from_str(text).unwrap();
            let pb: pb::InterimTarget = t.to_element("i").unwrap();
            assert_eq!(
                serde_norway::to_string(&InterimRecord::from_message(&pb)).unwrap(),
                written
            );
        }
    }

    #[test]
    fn records_survive_proto_and_back() {
        let rec: GoalRecord = serde_norway::from_str(
            "id: ax\ntitle: AX\nparent: policyGoals/root\npillar: industrial_resurgence\n\
             targets:\n- metric: f\n  unit: factories\n  target_value: 500\n  direction: increase_to\n  target_year: 2030\n\
             milestones:\n- title: start\n  due: 2026\nlinked_partners: [tradePartners/us]\n",
        )
        .unwrap();
        let back = GoalRecord::from_pb(&rec.to_pb().unwrap());
        assert_eq!(back, rec.canonical());
        assert_eq!(back.parent.as_deref(), Some("root"));
        assert_eq!(back.pillar, None);
        assert_eq!(back.targets[0].comparator.as_deref(), Some("AT_LEAST"));
        // A state the file does not give stays unspecified.
        assert!(!back.milestones[0].fields.has("state"));
        assert_eq!(back.linked_partners, vec!["us"]);
    }

    #[test]
    fn every_bad_enum_is_reported() {
        let rec = GoalRecord {
            id: "Bad Id".into(),
            pillar: Some("nope".into()),
            risks: vec![serde_norway::from_str("category: x\ntitle: t\n").unwrap()],
            ..Default::default()
        };
        let errs = rec.to_pb().unwrap_err();
        assert_eq!(errs.len(), 3, "{errs:?}");
    }
}
