//! TradePartner and TradeFlow <-> proto.

use registry_proto::v1 as pb;

use super::{
    LONG_TEXT, OPTIONAL_TITLE, SHORT_TEXT, Stamped, TITLE, enums::enum_field, goal::items, labels, text, timestamp,
};
use crate::domain::{
    Collection, Error, Id, Violations, check,
    enums::{EngagementKind, EngagementState, PartnerKind, Priority},
    goal::{Date, Risk},
    partner::{
        Engagement, FIELDS, FlowSpec, MAX_MEMBERS, PartnerField, PartnerPatch, PartnerSpec, RULE_INPUTS, TradeFlow,
        TradePartner, names,
    },
};

const PARTNERS: Collection = Collection::TradePartners;

impl TradePartner {
    pub fn to_proto(&self) -> pb::TradePartner {
        let s = &self.spec;
        pb::TradePartner {
            name: self.name(),
            kind: s.kind.to_proto(),
            display_name: s.display_name.clone(),
            display_name_ko: s.display_name_ko.clone(),
            description_ko: s.description_ko.clone(),
            region: s.region.clone(),
            members: PARTNERS.names(&s.members),
            memberships: PARTNERS.names(&self.memberships),
            priority: s.priority.map_or(0, Priority::to_proto),
            trade_agreements: Collection::Agreements.names(&self.trade_agreements),
            engagements: s.engagements.iter().map(Engagement::to_proto).collect(),
            risks: s.risks.iter().map(Risk::to_proto).collect(),
            linked_goals: Collection::PolicyGoals.names(&self.linked_goals),
            risk_register: Collection::Risks.names(&self.risk_register),
            dependent_products: self.dependent_products.iter().map(|d| d.to_proto()).collect(),
            source: s.source.clone(),
            labels: s.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            // The deprecated inline agreements stay empty (see `trade_agreements`).
            ..Default::default()
        }
        .stamped(self.etag(), &self.stamps)
    }
}

impl Engagement {
    fn from_proto(v: &mut Violations, f: &str, e: &pb::Engagement) -> Option<Engagement> {
        let before = v.len();
        check::text(v, &format!("{f}.title"), &e.title, true, check::MAX_TITLE, false);
        let kind = enum_field::<EngagementKind>(v, &format!("{f}.kind"), e.kind, true);
        let state = enum_field::<EngagementState>(v, &format!("{f}.state"), e.state, false);
        check::text(
            v,
            &format!("{f}.next_step"),
            &e.next_step,
            false,
            check::MAX_SHORT_TEXT,
            true,
        );
        let linked_goals = names(
            v,
            &format!("{f}.linked_goals"),
            &e.linked_goals,
            Collection::PolicyGoals,
            100,
        );
        check::text(
            v,
            &format!("{f}.description"),
            &e.description,
            false,
            check::MAX_LONG_TEXT,
            true,
        );
        let date = Date::from_proto(v, &format!("{f}.date"), e.date.as_ref());
        let agreement = (!e.agreement.is_empty())
            .then(|| v.take(Collection::Agreements.parse_name(&format!("{f}.agreement"), &e.agreement)))
            .flatten();
        (v.len() == before).then(|| Engagement {
            title: e.title.clone(),
            kind: kind.unwrap_or(EngagementKind::Other),
            state: state.unwrap_or(EngagementState::Unspecified),
            next_step: e.next_step.clone(),
            linked_goals,
            description: e.description.clone(),
            date,
            agreement,
        })
    }

    pub fn to_proto(&self) -> pb::Engagement {
        pb::Engagement {
            title: self.title.clone(),
            kind: self.kind.to_proto(),
            state: self.state.to_proto(),
            next_step: self.next_step.clone(),
            linked_goals: self
                .linked_goals
                .iter()
                .map(|g| Collection::PolicyGoals.name(g))
                .collect(),
            description: self.description.clone(),
            date: self.date.map(Date::to_proto),
            agreement: self
                .agreement
                .as_ref()
                .map(|a| Collection::Agreements.name(a))
                .unwrap_or_default(),
        }
    }
}

patchable!(pb::TradePartner => PartnerField, PartnerPatch, PartnerSpec, FIELDS, RULE_INPUTS);

/// One writable field of `p`, validated (`f` is its path in the request).
fn field(v: &mut Violations, f: &str, p: &pb::TradePartner, name: &str) -> Option<PartnerField> {
    Some(match name {
        "kind" => PartnerField::Kind(enum_field::<PartnerKind>(v, f, p.kind, true)?),
        "display_name" => PartnerField::DisplayName(text(v, f, &p.display_name, TITLE)),
        "display_name_ko" => PartnerField::DisplayNameKo(text(v, f, &p.display_name_ko, OPTIONAL_TITLE)),
        "description_ko" => PartnerField::DescriptionKo(text(v, f, &p.description_ko, LONG_TEXT)),
        "region" => {
            if !p.region.is_empty() && !check::is_slug(&p.region) {
                v.add(f, "is a lowercase slug such as east-asia or southeast-asia");
            }
            PartnerField::Region(p.region.clone())
        }
        "members" => PartnerField::Members(names(v, f, &p.members, PARTNERS, MAX_MEMBERS)),
        "priority" => PartnerField::Priority(enum_field::<Priority>(v, f, p.priority, false)),
        "engagements" => PartnerField::Engagements(items(
            v,
            f,
            &p.engagements,
            check::MAX_LIST_ITEMS,
            Engagement::from_proto,
        )),
        "risks" => PartnerField::Risks(items(v, f, &p.risks, 50, Risk::from_proto)),
        "source" => PartnerField::Source(text(v, f, &p.source, SHORT_TEXT)),
        "labels" => PartnerField::Labels(labels(v, f, &p.labels)),
        _ => return None,
    })
}

/// The spec of a partner created by an update with `allow_missing` (the whole message), its
/// id checked against its kind (countries are ISO codes).
pub fn create_spec(field: &str, p: &pb::TradePartner, id: &Id, id_field: &str) -> Result<PartnerSpec, Error> {
    let spec = PartnerSpec::from_proto(field, p)?;
    let mut v = Violations::new();
    crate::domain::partner::check_id(&mut v, id_field, id, spec.kind);
    v.finish(|| spec.named_in_korean(id))
}

impl FlowSpec {
    pub fn from_proto(prefix: &str, f: &pb::TradeFlow) -> Result<FlowSpec, Error> {
        let mut v = Violations::new();
        if f.exports_usd < 0 {
            v.add(format!("{prefix}.exports_usd"), "must not be negative");
        }
        if f.imports_usd < 0 {
            v.add(format!("{prefix}.imports_usd"), "must not be negative");
        }
        check::text(
            &mut v,
            &format!("{prefix}.source"),
            &f.source,
            false,
            check::MAX_SHORT_TEXT,
            false,
        );
        v.finish(|| FlowSpec {
            exports_usd: f.exports_usd,
            imports_usd: f.imports_usd,
            source: f.source.clone(),
            estimated: f.estimated,
        })
    }
}

impl TradeFlow {
    pub fn to_proto(&self) -> pb::TradeFlow {
        pb::TradeFlow {
            name: self.name(),
            year: self.year,
            exports_usd: self.exports_usd,
            imports_usd: self.imports_usd,
            source: self.source.clone(),
            estimated: self.estimated,
            create_time: Some(timestamp(self.create_time)),
            update_time: Some(timestamp(self.update_time)),
            etag: self.etag(),
            revision: self.revision,
        }
    }
}
