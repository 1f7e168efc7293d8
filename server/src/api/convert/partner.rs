//! TradePartner and TradeFlow <-> proto.

use registry_proto::v1 as pb;

use super::{enums::enum_field, goal::items, timestamp};
use crate::domain::{
    Collection, Error, Id, Violations, check,
    enums::{AgreementStatus, AgreementType, EngagementKind, EngagementState, PartnerKind, Priority},
    goal::{Date, Risk},
    partner::{
        Agreement, Engagement, FIELDS, FlowSpec, MAX_MEMBERS, PartnerField, PartnerPatch, PartnerSpec, RULE_INPUTS,
        TradeFlow, TradePartner, names,
    },
};

const PARTNERS: Collection = Collection::TradePartners;

impl TradePartner {
    pub fn to_proto(&self) -> pb::TradePartner {
        let s = &self.spec;
        let names = |ids: &[Id], c: Collection| ids.iter().map(|i| c.name(i)).collect::<Vec<_>>();
        pb::TradePartner {
            name: self.name(),
            kind: s.kind.to_proto(),
            display_name: s.display_name.clone(),
            display_name_ko: s.display_name_ko.clone(),
            description_ko: s.description_ko.clone(),
            region: s.region.clone(),
            members: names(&s.members, PARTNERS),
            memberships: names(&self.memberships, PARTNERS),
            priority: s.priority.map_or(0, Priority::to_proto),
            agreements: s.agreements.iter().map(Agreement::to_proto).collect(),
            engagements: s.engagements.iter().map(Engagement::to_proto).collect(),
            risks: s.risks.iter().map(Risk::to_proto).collect(),
            linked_goals: names(&self.linked_goals, Collection::PolicyGoals),
            risk_register: names(&self.risk_register, Collection::Risks),
            source: s.source.clone(),
            labels: s.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            create_time: Some(timestamp(self.create_time)),
            update_time: Some(timestamp(self.update_time)),
            delete_time: self.delete_time.map(timestamp),
            expire_time: self.expire_time.map(timestamp),
            etag: self.etag(),
            revision: self.revision,
        }
    }
}

impl Agreement {
    fn from_proto(v: &mut Violations, f: &str, a: &pb::Agreement) -> Option<Agreement> {
        let before = v.len();
        check::text(v, &format!("{f}.title"), &a.title, true, check::MAX_TITLE, false);
        let agreement_type = enum_field(
            v,
            &format!("{f}.type"),
            a.r#type,
            AgreementType::from_proto,
            true,
            AgreementType::expected,
        );
        let status = enum_field(
            v,
            &format!("{f}.status"),
            a.status,
            AgreementStatus::from_proto,
            true,
            AgreementStatus::expected,
        );
        let signature_date = Date::from_proto(v, &format!("{f}.signature_date"), a.signature_date.as_ref());
        let entry = Date::from_proto(
            v,
            &format!("{f}.entry_into_force_date"),
            a.entry_into_force_date.as_ref(),
        );
        check::text(
            v,
            &format!("{f}.description"),
            &a.description,
            false,
            check::MAX_LONG_TEXT,
            true,
        );
        use AgreementStatus::*;
        if let Some(s) = status {
            if signature_date.is_some() && matches!(s, Proposed | InNegotiation) {
                v.add(
                    format!("{f}.signature_date"),
                    format!("must not be set while the agreement is {s}"),
                );
            }
            if entry.is_some() && !matches!(s, InForce | UnderReview | Suspended) {
                v.add(
                    format!("{f}.entry_into_force_date"),
                    format!("is only set once the agreement is IN_FORCE (or later UNDER_REVIEW or SUSPENDED), not {s}"),
                );
            }
        }
        if let (Some(sd), Some(e)) = (signature_date, entry)
            && e < sd
        {
            v.add(
                format!("{f}.entry_into_force_date"),
                "must not be before the signature date",
            );
        }
        (v.len() == before).then(|| Agreement {
            title: a.title.clone(),
            agreement_type: agreement_type.unwrap_or(AgreementType::Other),
            status: status.unwrap_or(Proposed),
            signature_date,
            entry_into_force_date: entry,
            description: a.description.clone(),
        })
    }

    pub fn to_proto(&self) -> pb::Agreement {
        pb::Agreement {
            title: self.title.clone(),
            r#type: self.agreement_type.to_proto(),
            status: self.status.to_proto(),
            signature_date: self.signature_date.map(Date::to_proto),
            entry_into_force_date: self.entry_into_force_date.map(Date::to_proto),
            description: self.description.clone(),
        }
    }
}

impl Engagement {
    fn from_proto(v: &mut Violations, f: &str, e: &pb::Engagement) -> Option<Engagement> {
        let before = v.len();
        check::text(v, &format!("{f}.title"), &e.title, true, check::MAX_TITLE, false);
        let kind = enum_field(
            v,
            &format!("{f}.kind"),
            e.kind,
            EngagementKind::from_proto,
            true,
            EngagementKind::expected,
        );
        let state = enum_field(
            v,
            &format!("{f}.state"),
            e.state,
            EngagementState::from_proto,
            false,
            EngagementState::expected,
        );
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
        (v.len() == before).then(|| Engagement {
            title: e.title.clone(),
            kind: kind.unwrap_or(EngagementKind::Other),
            state: state.unwrap_or(EngagementState::Planned),
            next_step: e.next_step.clone(),
            linked_goals,
            description: e.description.clone(),
            date,
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
        }
    }
}

patchable!(pb::TradePartner => PartnerField, PartnerPatch, PartnerSpec, FIELDS, RULE_INPUTS);

/// One writable field of `p`, validated (`f` is its path in the request).
fn field(v: &mut Violations, f: &str, p: &pb::TradePartner, name: &str) -> Option<PartnerField> {
    let before = v.len();
    let value = match name {
        "kind" => PartnerField::Kind(enum_field(
            v,
            f,
            p.kind,
            PartnerKind::from_proto,
            true,
            PartnerKind::expected,
        )?),
        "display_name" => {
            check::text(v, f, &p.display_name, true, check::MAX_TITLE, false);
            PartnerField::DisplayName(p.display_name.clone())
        }
        "display_name_ko" => {
            check::text(v, f, &p.display_name_ko, false, check::MAX_TITLE, false);
            PartnerField::DisplayNameKo(p.display_name_ko.clone())
        }
        "description_ko" => {
            check::text(v, f, &p.description_ko, false, check::MAX_LONG_TEXT, true);
            PartnerField::DescriptionKo(p.description_ko.clone())
        }
        "region" => {
            if !p.region.is_empty() && !check::is_slug(&p.region) {
                v.add(f, "is a lowercase slug such as east-asia or southeast-asia");
            }
            PartnerField::Region(p.region.clone())
        }
        "members" => PartnerField::Members(names(v, f, &p.members, PARTNERS, MAX_MEMBERS)),
        "priority" => PartnerField::Priority(enum_field(
            v,
            f,
            p.priority,
            Priority::from_proto,
            false,
            Priority::expected,
        )),
        "agreements" => {
            PartnerField::Agreements(items(v, f, &p.agreements, check::MAX_LIST_ITEMS, Agreement::from_proto))
        }
        "engagements" => PartnerField::Engagements(items(
            v,
            f,
            &p.engagements,
            check::MAX_LIST_ITEMS,
            Engagement::from_proto,
        )),
        "risks" => PartnerField::Risks(items(v, f, &p.risks, 50, Risk::from_proto)),
        "source" => {
            check::text(v, f, &p.source, false, check::MAX_SHORT_TEXT, false);
            PartnerField::Source(p.source.clone())
        }
        "labels" => {
            let labels = p.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            check::labels(v, f, &labels);
            PartnerField::Labels(labels)
        }
        _ => return None,
    };
    (v.len() == before).then_some(value)
}

/// The spec of a partner created by an update with `allow_missing` (the whole message), its
/// id checked against its kind (countries are ISO codes).
pub fn create_spec(field: &str, p: &pb::TradePartner, id: &Id) -> Result<PartnerSpec, Error> {
    let spec = PartnerSpec::from_proto(field, p)?;
    let mut v = Violations::new();
    crate::domain::partner::check_id(&mut v, &format!("{field}.name"), id, spec.kind);
    v.finish(|| spec)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agreement_dates_follow_status() {
        let date = |y| {
            Some(pb::Date {
                year: y,
                month: 0,
                day: 0,
            })
        };
        let p = pb::TradePartner {
            kind: pb::trade_partner::Kind::Country as i32,
            display_name: "United States".into(),
            agreements: vec![
                pb::Agreement {
                    title: "a".into(),
                    r#type: pb::agreement::Type::Fta as i32,
                    status: pb::agreement::Status::InNegotiation as i32,
                    signature_date: date(2020),
                    ..Default::default()
                },
                pb::Agreement {
                    title: "b".into(),
                    r#type: pb::agreement::Type::Fta as i32,
                    status: pb::agreement::Status::InForce as i32,
                    signature_date: date(2012),
                    entry_into_force_date: date(2011),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let Err(Error::InvalidArgument(v)) = PartnerSpec::from_proto("p", &p) else {
            panic!("expected violations");
        };
        let fields: Vec<&str> = v.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "p.agreements[0].signature_date",
                "p.agreements[1].entry_into_force_date"
            ]
        );
    }
}
