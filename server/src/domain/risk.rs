//! The risk register: `RiskSpec` (what a client may write) and `RiskEntry` (what the registry
//! stores). One risk is one record linked to every goal and partner it threatens.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{
    Collection, Id, Violations,
    enums::{RiskCategory, RiskState},
    list::{Col, FieldDef, FieldKind, SortValue},
};

/// The largest likelihood or impact; 0 means not assessed.
pub const MAX_SCORE: u8 = 5;

/// The client-writable part of a risk, fully validated.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RiskSpec {
    pub title: String,
    #[serde(default)]
    pub title_ko: String,
    /// Required; `None` only in the default a create starts from.
    pub category: Option<RiskCategory>,
    #[serde(default)]
    pub description: String,
    /// 1..=5, 0 when not assessed.
    #[serde(default)]
    pub likelihood: u8,
    /// 1..=5, 0 when not assessed.
    #[serde(default)]
    pub impact: u8,
    #[serde(default)]
    pub owner_organization: String,
    #[serde(default)]
    pub mitigation: String,
    /// `None` when not stated.
    #[serde(default)]
    pub state: Option<RiskState>,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub goals: Vec<Id>,
    #[serde(default)]
    pub partners: Vec<Id>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub product_sets: Vec<Id>,
}

patch_fields!(
    /// One field set by a write: the typed form of an update-mask path with its new value.
    RiskField, RiskPatch for RiskSpec {
        Title(String) => title,
        TitleKo(String) => title_ko,
        Category(Option<RiskCategory>) => category,
        Description(String) => description,
        Likelihood(u8) => likelihood,
        Impact(u8) => impact,
        OwnerOrganization(String) => owner_organization,
        Mitigation(String) => mitigation,
        State(Option<RiskState>) => state,
        Source(String) => source,
        Labels(BTreeMap<String, String>) => labels,
        Goals(Vec<Id>) => goals,
        Partners(Vec<Id>) => partners,
        ProductSets(Vec<Id>) => product_sets,
});

/// What each rule of [`RiskSpec::apply`] reads: the field its violation names, and its inputs.
pub const RULE_INPUTS: &[(&str, &[&str])] = &[("category", &["category"]), ("labels", &["labels"])];

impl RiskSpec {
    /// The rules across fields ([`RULE_INPUTS`]).
    fn rules(&self, v: &mut Violations) {
        if self.category.is_none() {
            v.add("category", format!("is required; one of {}", RiskCategory::expected()));
        }
    }
}

/// A stored risk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskEntry {
    pub id: Id,
    #[serde(flatten)]
    pub spec: RiskSpec,
    #[serde(flatten)]
    pub stamps: super::Stamps,
}

impl RiskEntry {
    pub fn name(&self) -> String {
        Collection::Risks.name(&self.id)
    }

    /// The value of an orderable field, for a page-token cursor.
    pub fn sort_value(&self, field: &str) -> SortValue {
        let s = &self.spec;
        match field {
            "title" => SortValue::Text(s.title.clone()),
            "category" => SortValue::Text(s.category.map(RiskCategory::as_str).unwrap_or_default().to_owned()),
            "state" => SortValue::Text(s.state.map(RiskState::as_str).unwrap_or_default().to_owned()),
            "likelihood" => SortValue::Int(i64::from(s.likelihood)),
            "impact" => SortValue::Int(i64::from(s.impact)),
            "owner_organization" => SortValue::Text(s.owner_organization.clone()),
            _ => self.stamps.sort_value(&self.id, field),
        }
    }
}

/// The fields of a risk: how each is written (update masks) and which can be filtered on and
/// ordered by.
pub const FIELDS: &[FieldDef] = resource_fields!(
    [
        FieldDef::text("title").orderable(),
        FieldDef::enumeration("category", RiskCategory::FIELD_KIND).orderable(),
        FieldDef::enumeration("state", RiskState::FIELD_KIND).orderable(),
        FieldDef::filter("likelihood", FieldKind::Integer, Col::Int("likelihood")).orderable(),
        FieldDef::filter("impact", FieldKind::Integer, Col::Int("impact")).orderable(),
        FieldDef::text("owner_organization").orderable(),
        FieldDef::names("goals", Collection::PolicyGoals),
        FieldDef::names("partners", Collection::TradePartners),
        FieldDef::names("product_sets", Collection::ProductSets),
    ],
    search ["title", "title_ko", "description", "mitigation", "source"],
    plain ["title_ko", "description", "mitigation", "source"],
);
