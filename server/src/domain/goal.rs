//! The policy-goal model: what a client may write (`GoalSpec`) and what the registry stores
//! (`PolicyGoal`). `GoalSpec::from_proto` checks every field of the proto message.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{
    Collection, Id, Violations,
    enums::{
        CheckInConfidence, Comparator, Confidence, Direction, GoalState, MilestoneState, Outcome, Pillar,
        ProgressState, RiskCategory, RiskSeverity,
    },
    list::{Col, FieldDef, FieldKind, Write, common},
};

/// A possibly partial calendar date (month/day 0 when unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Date {
    pub year: i32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub month: u8,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub day: u8,
}

fn is_zero(v: &u8) -> bool {
    *v == 0
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InterimTarget {
    pub year: i32,
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    pub metric: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub unit: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_value: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_date: Option<Date>,
    pub target_value: f64,
    pub direction: Direction,
    pub comparator: Comparator,
    pub target_year: i32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interim_targets: Vec<InterimTarget>,
    /// INCREASE_BY / DECREASE_BY: `target_value` is a percentage of the baseline.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub percent_of_baseline: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Milestone {
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_date: Option<Date>,
    pub state: MilestoneState,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Risk {
    pub category: RiskCategory,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<RiskSeverity>,
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// The client-writable part of a goal, fully validated.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GoalSpec {
    pub title: String,
    pub title_ko: String,
    /// None only for a child that inherits its parent's pillar (resolved by the store).
    pub pillar: Option<Pillar>,
    pub parent: Option<Id>,
    pub description: String,
    #[serde(default)]
    pub description_ko: String,
    pub sectors: Vec<String>,
    pub regions: Vec<String>,
    pub lead_organization: String,
    pub confidence: Option<Confidence>,
    pub confidence_note: String,
    pub targets: Vec<Target>,
    pub milestones: Vec<Milestone>,
    pub linked_partners: Vec<Id>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contributing_organizations: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contributes_to: Vec<Id>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub product_sets: Vec<Id>,
    pub risks: Vec<Risk>,
    pub source: String,
    pub labels: BTreeMap<String, String>,
}

patch_fields!(
    /// One field set by a write: the typed form of an update-mask path with its new value.
    GoalField, GoalPatch for GoalSpec {
        Title(String) => title,
        TitleKo(String) => title_ko,
        /// `None`: inherit the parent's pillar.
        Pillar(Option<Pillar>) => pillar,
        Parent(Option<Id>) => parent,
        Description(String) => description,
        DescriptionKo(String) => description_ko,
        Sectors(Vec<String>) => sectors,
        Regions(Vec<String>) => regions,
        LeadOrganization(String) => lead_organization,
        Confidence(Option<Confidence>) => confidence,
        ConfidenceNote(String) => confidence_note,
        Targets(Vec<Target>) => targets,
        Milestones(Vec<Milestone>) => milestones,
        LinkedPartners(Vec<Id>) => linked_partners,
        ContributingOrganizations(Vec<String>) => contributing_organizations,
        ContributesTo(Vec<Id>) => contributes_to,
        ProductSets(Vec<Id>) => product_sets,
        Risks(Vec<Risk>) => risks,
        Source(String) => source,
        Labels(BTreeMap<String, String>) => labels,
});

/// What each rule of [`GoalSpec::apply`] reads: the field its violation names, and its inputs.
pub const RULE_INPUTS: &[(&str, &[&str])] = &[("pillar", &["pillar", "parent"]), ("labels", &["labels"])];

impl GoalSpec {
    /// The rules across fields ([`RULE_INPUTS`]).
    fn rules(&self, v: &mut Violations) {
        if self.parent.is_none() && self.pillar.is_none() {
            v.add(
                "pillar",
                format!("is required for a goal without a parent; one of {}", Pillar::expected()),
            );
        }
    }
}

/// A stored goal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyGoal {
    pub id: Id,
    #[serde(flatten)]
    pub spec: GoalSpec,
    pub state: GoalState,
    pub outcome: Option<Outcome>,
    /// Ancestor ids, root first.
    pub ancestors: Vec<Id>,
    #[serde(flatten)]
    pub stamps: super::Stamps,
    /// Output only: the computed progress of each target, in the order of `spec.targets`
    /// (attached by the store on every read; not part of snapshots). Empty when not computed.
    #[serde(skip)]
    pub progress: Vec<super::progress::Progress>,
    /// Output only: live risks of the register that link this goal, by id (attached by the
    /// store on reads of the current state).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub risk_register: Vec<Id>,
    /// Output only: the dependent products behind the goal (attached by Get only, see
    /// `store::dependents`; not part of snapshots).
    #[serde(skip)]
    pub dependent_products: Vec<super::dependency::DependentProduct>,
    /// Output only: the newest check-in (stored on the goal's row by the check-in's
    /// transaction; for a past state, attached by the store). Not part of snapshots: a
    /// check-in is not a change of the goal.
    #[serde(skip)]
    pub latest_check_in: Option<super::check_in::CheckIn>,
}

impl PolicyGoal {
    pub fn name(&self) -> String {
        Collection::PolicyGoals.name(&self.id)
    }

    pub fn etag(&self) -> String {
        self.stamps.etag(&self.id)
    }
}

/// The fields of a goal: how each is written (update masks) and which can be filtered on
/// (`filter`, see `domain::filter`) and ordered by (`order_by`).
pub const FIELDS: &[FieldDef] = &[
    FieldDef::enumeration("pillar", Pillar::FIELD_KIND).orderable(),
    FieldDef::enumeration("state", GoalState::FIELD_KIND)
        .orderable()
        .written(Write::Custom("ChangePolicyGoalState")),
    FieldDef::filter(
        "parent",
        FieldKind::Reference(Collection::PolicyGoals),
        Col::Reference("parent_id"),
    ),
    FieldDef::strings("sectors"),
    FieldDef::strings("regions"),
    FieldDef::names("linked_partners", Collection::TradePartners),
    FieldDef::text("lead_organization").orderable(),
    FieldDef::strings("contributing_organizations"),
    FieldDef::names("contributes_to", Collection::PolicyGoals),
    FieldDef::names("product_sets", Collection::ProductSets),
    FieldDef::text("title").orderable(),
    common::LABELS,
    common::CREATE_TIME,
    common::UPDATE_TIME,
    FieldDef::filter("targets.target_year", FieldKind::Integer, Col::TargetYear).written(Write::None),
    FieldDef::filter(
        "progress_state",
        ProgressState::FIELD_KIND,
        Col::EnumArray("progress_states"),
    )
    .written(Write::None),
    common::search(&["title", "title_ko", "description", "description_ko"]),
    common::NAME,
    FieldDef::plain("title_ko"),
    FieldDef::plain("description"),
    FieldDef::plain("description_ko"),
    FieldDef::output("outcome").written(Write::Custom("ChangePolicyGoalState")),
    FieldDef::plain("confidence"),
    FieldDef::plain("confidence_note"),
    FieldDef::plain("targets"),
    FieldDef::plain("milestones"),
    common::risks("goals", "policy_goals.id"),
    FieldDef::plain("source"),
    FieldDef::output("ancestors"),
    FieldDef::output("risk_register"),
    FieldDef::output("dependent_products"),
    FieldDef::output("latest_check_in"),
    FieldDef::enumeration("latest_confidence", CheckInConfidence::FIELD_KIND).written(Write::None),
    common::DELETE_TIME,
    common::EXPIRE_TIME,
    common::ETAG,
    common::REVISION,
];

impl PolicyGoal {
    /// The value of an orderable field, for a page-token cursor.
    pub fn sort_value(&self, field: &str) -> super::list::SortValue {
        use super::list::SortValue::Text;
        match field {
            "title" => Text(self.spec.title.clone()),
            "pillar" => Text(self.spec.pillar.map(Pillar::as_str).unwrap_or_default().to_owned()),
            "state" => Text(self.state.as_str().to_owned()),
            "lead_organization" => Text(self.spec.lead_organization.clone()),
            _ => self.stamps.sort_value(&self.id, field),
        }
    }
}
