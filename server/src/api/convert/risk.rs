//! RiskEntry <-> proto.

use registry_proto::v1 as pb;

use super::{enums::enum_field, timestamp};
use crate::domain::{
    Collection, Error, Id, Violations, check,
    enums::{RiskCategory, RiskState},
    partner::names,
    risk::{FIELDS, MAX_SCORE, RULE_INPUTS, RiskEntry, RiskField, RiskPatch, RiskSpec},
};

impl RiskEntry {
    pub fn to_proto(&self) -> pb::RiskEntry {
        let s = &self.spec;
        let names = |ids: &[Id], c: Collection| ids.iter().map(|i| c.name(i)).collect::<Vec<_>>();
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
            goals: names(&s.goals, Collection::PolicyGoals),
            partners: names(&s.partners, Collection::TradePartners),
            product_sets: names(&s.product_sets, Collection::ProductSets),
            create_time: Some(timestamp(self.stamps.create_time)),
            update_time: Some(timestamp(self.stamps.update_time)),
            delete_time: self.stamps.delete_time.map(timestamp),
            expire_time: self.stamps.expire_time.map(timestamp),
            etag: crate::store::Resource::etag(self),
            revision: self.stamps.revision,
        }
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
    let before = v.len();
    let text = |v: &mut Violations, value: &str, required: bool, max: usize, multiline: bool| {
        check::text(v, f, value, required, max, multiline);
        value.to_owned()
    };
    let value = match name {
        "title" => RiskField::Title(text(v, &r.title, true, check::MAX_TITLE, false)),
        "title_ko" => RiskField::TitleKo(text(v, &r.title_ko, false, check::MAX_TITLE, false)),
        "category" => RiskField::Category(enum_field(
            v,
            f,
            r.category,
            RiskCategory::from_proto,
            true,
            RiskCategory::expected,
        )),
        "description" => RiskField::Description(text(v, &r.description, false, check::MAX_LONG_TEXT, true)),
        "likelihood" => RiskField::Likelihood(score(v, f, r.likelihood)),
        "impact" => RiskField::Impact(score(v, f, r.impact)),
        "owner_organization" => {
            RiskField::OwnerOrganization(text(v, &r.owner_organization, false, check::MAX_TITLE, false))
        }
        "mitigation" => RiskField::Mitigation(text(v, &r.mitigation, false, check::MAX_LONG_TEXT, true)),
        "state" => RiskField::State(enum_field(
            v,
            f,
            r.state,
            RiskState::from_proto,
            false,
            RiskState::expected,
        )),
        "source" => RiskField::Source(text(v, &r.source, false, check::MAX_SHORT_TEXT, false)),
        "labels" => {
            let labels = r.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            check::labels(v, f, &labels);
            RiskField::Labels(labels)
        }
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
    };
    (v.len() == before).then_some(value)
}

patchable!(pb::RiskEntry => RiskField, RiskPatch, RiskSpec, FIELDS, RULE_INPUTS);

/// The spec of a risk created by an update with `allow_missing` (the whole message).
pub fn create_spec(field: &str, r: &pb::RiskEntry, _id: &Id, _id_field: &str) -> Result<RiskSpec, Error> {
    RiskSpec::from_proto(field, r)
}
