//! TradeAgreement <-> proto.

use registry_proto::v1 as pb;

use super::{LONG_TEXT, OPTIONAL_TITLE, SHORT_TEXT, Stamped, TITLE, enums::enum_field, goal::items, labels, text};
use crate::domain::{
    Collection, Error, Id, Violations,
    agreement::{
        AgreementEvent, AgreementField, AgreementPatch, AgreementSpec, FIELDS, MAX_EVENTS, MAX_PARTIES, RULE_INPUTS,
        TradeAgreement,
    },
    check,
    enums::{AgreementEventKind, AgreementKind, AgreementState},
    goal::Date,
    partner::names,
};

impl TradeAgreement {
    pub fn to_proto(&self) -> pb::TradeAgreement {
        let s = &self.spec;
        pb::TradeAgreement {
            name: self.name(),
            title: s.title.clone(),
            title_ko: s.title_ko.clone(),
            kind: s.kind.to_proto(),
            parties: Collection::TradePartners.names(&s.parties),
            events: s.events.iter().map(AgreementEvent::to_proto).collect(),
            status: s.status().map_or(0, AgreementState::to_proto),
            description: s.description.clone(),
            source: s.source.clone(),
            labels: s.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            ..Default::default()
        }
        .stamped(crate::store::Resource::etag(self), &self.stamps)
    }
}

impl AgreementEvent {
    fn from_proto(v: &mut Violations, f: &str, e: &pb::AgreementEvent) -> Option<AgreementEvent> {
        let before = v.len();
        let kind = enum_field::<AgreementEventKind>(v, &format!("{f}.kind"), e.kind, true);
        let date = Date::from_proto(v, &format!("{f}.date"), e.date.as_ref());
        if e.date.is_none() {
            v.add(format!("{f}.date"), "is required (a year, a month or a day)");
        }
        check::text(
            v,
            &format!("{f}.source"),
            &e.source,
            false,
            check::MAX_SHORT_TEXT,
            false,
        );
        check::text(v, &format!("{f}.note"), &e.note, false, check::MAX_SHORT_TEXT, true);
        let (Some(kind), Some(date), true) = (kind, date, v.len() == before) else {
            return None;
        };
        Some(AgreementEvent {
            kind,
            date,
            source: e.source.clone(),
            note: e.note.clone(),
        })
    }

    pub fn to_proto(&self) -> pb::AgreementEvent {
        pb::AgreementEvent {
            kind: self.kind.to_proto(),
            date: Some(self.date.to_proto()),
            source: self.source.clone(),
            note: self.note.clone(),
        }
    }
}

patchable!(pb::TradeAgreement => AgreementField, AgreementPatch, AgreementSpec, FIELDS, RULE_INPUTS);

/// One writable field of `a`, validated (`f` is its path in the request).
fn field(v: &mut Violations, f: &str, a: &pb::TradeAgreement, name: &str) -> Option<AgreementField> {
    Some(match name {
        "title" => AgreementField::Title(text(v, f, &a.title, TITLE)),
        "title_ko" => AgreementField::TitleKo(text(v, f, &a.title_ko, OPTIONAL_TITLE)),
        "kind" => AgreementField::Kind(enum_field::<AgreementKind>(v, f, a.kind, true)?),
        "parties" => {
            let parties = names(v, f, &a.parties, Collection::TradePartners, MAX_PARTIES);
            AgreementField::Parties(parties)
        }
        "events" => AgreementField::Events(items(v, f, &a.events, MAX_EVENTS, AgreementEvent::from_proto)),
        "description" => AgreementField::Description(text(v, f, &a.description, LONG_TEXT)),
        "source" => AgreementField::Source(text(v, f, &a.source, SHORT_TEXT)),
        "labels" => AgreementField::Labels(labels(v, f, &a.labels)),
        _ => return None,
    })
}

/// The spec of an agreement created by an update with `allow_missing` (the whole message).
pub fn create_spec(field: &str, a: &pb::TradeAgreement, _id: &Id, _id_field: &str) -> Result<AgreementSpec, Error> {
    AgreementSpec::from_proto(field, a)
}
