//! RiskEntry <-> proto.

use registry_proto::v1 as pb;

use super::{LONG_TEXT, OPTIONAL_TITLE, SHORT_TEXT, Stamped, TITLE, enums::enum_field, labels, text};
use crate::domain::{
    Collection, Error, Id, Violations, check,
    enums::{RiskCategory, RiskState},
    partner::names,
    risk::{FIELDS, MAX_SCORE, RULE_INPUTS, RiskEntry, RiskField, RiskPatch, RiskSpec},
};

impl RiskEntry {
    pub fn to_proto(&self) -> pb::RiskEntry {
        let s = &self.spec;
        pb::RiskEntry {
            name: self.name(),
            title: s.title.clone(),
            title_ko: s.title_ko.clone(),
            category: s.category.map_or(0, RiskCategory::to_proto),
            description: s.description.clone(),
            likelihood: i32::from(s.likelihood),
            impact: i32::from(s.impact),
            owner_organization: s.owner_organization.clone(),
            mitigation: s.mitigation.clone(),
            state: s.state.map_or(0, RiskState::to_proto),
            source: s.source.clone(),
            labels: s.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            goals: Collection::PolicyGoals.names(&s.goals),
            partners: Collection::TradePartners.names(&s.partners),
            product_sets: Collection::ProductSets.names(&s.product_sets),
            ..Default::default()
        }
        .stamped(crate::store::Resource::etag(self), &self.stamps)
    }
}

/// A likelihood or impact: 1..=5, or 0 for not assessed.
fn score(v: &mut Violations, f: &str, raw: i32) -> u8 {
    match u8::try_from(raw) {
        Ok(n) if n <= MAX_SCORE => n,
        _ => {
            v.add(
                f,
                format!("must be 1 to {MAX_SCORE}, or 0 when not assessed (got {raw})"),
            );
            0
        }
    }
}

/// One writable field of `r`, validated (`f` is its path in the request).
fn field(v: &mut Violations, f: &str, r: &pb::RiskEntry, name: &str) -> Option<RiskField> {
    Some(match name {
        "title" => RiskField::Title(text(v, f, &r.title, TITLE)),
        "title_ko" => RiskField::TitleKo(text(v, f, &r.title_ko, OPTIONAL_TITLE)),
        "category" => RiskField::Category(enum_field::<RiskCategory>(v, f, r.category, true)),
        "description" => RiskField::Description(text(v, f, &r.description, LONG_TEXT)),
        "likelihood" => RiskField::Likelihood(score(v, f, r.likelihood)),
        "impact" => RiskField::Impact(score(v, f, r.impact)),
        "owner_organization" => RiskField::OwnerOrganization(text(v, f, &r.owner_organization, OPTIONAL_TITLE)),
        "mitigation" => RiskField::Mitigation(text(v, f, &r.mitigation, LONG_TEXT)),
        "state" => RiskField::State(enum_field::<RiskState>(v, f, r.state, false)),
        "source" => RiskField::Source(text(v, f, &r.source, SHORT_TEXT)),
        "labels" => RiskField::Labels(labels(v, f, &r.labels)),
        "goals" => RiskField::Goals(names(v, f, &r.goals, Collection::PolicyGoals, check::MAX_LIST_ITEMS)),
        "partners" => RiskField::Partners(names(
            v,
            f,
            &r.partners,
            Collection::TradePartners,
            check::MAX_LIST_ITEMS,
        )),
        "product_sets" => RiskField::ProductSets(names(
            v,
            f,
            &r.product_sets,
            Collection::ProductSets,
            check::MAX_LIST_ITEMS,
        )),
        _ => return None,
    })
}

patchable!(pb::RiskEntry => RiskField, RiskPatch, RiskSpec, FIELDS, RULE_INPUTS);

/// The spec of a risk created by an update with `allow_missing` (the whole message).
pub fn create_spec(field: &str, r: &pb::RiskEntry, _id: &Id, _id_field: &str) -> Result<RiskSpec, Error> {
    RiskSpec::from_proto(field, r)
}
