//! The agreement model: `AgreementSpec` (what a client may write) and `TradeAgreement` (what
//! the registry stores). An agreement's status is not written: it follows from its dated
//! events ([`status`]), and is unknown while none is recorded.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{
    Collection, Id, Violations,
    enums::{AgreementEventKind, AgreementKind, AgreementState},
    goal::Date,
    list::{Col, FieldDef, SortValue},
};

const AGREEMENTS: Collection = Collection::Agreements;
/// Korea, implied party to every agreement.
pub const KOREA: &str = "kr";
/// At most this many parties.
pub const MAX_PARTIES: usize = 200;
/// At most this many events.
pub const MAX_EVENTS: usize = 100;

/// One dated event of an agreement's lifecycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgreementEvent {
    pub kind: AgreementEventKind,
    pub date: Date,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// The client-writable part of an agreement, fully validated.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AgreementSpec {
    pub title: String,
    #[serde(default)]
    pub title_ko: String,
    pub kind: AgreementKind,
    pub parties: Vec<Id>,
    #[serde(default)]
    pub events: Vec<AgreementEvent>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// Stands in for an unset kind until the create's own check refuses it.
impl Default for AgreementKind {
    fn default() -> Self {
        AgreementKind::Other
    }
}

patch_fields!(
    /// One field set by a write: the typed form of an update-mask path with its new value.
    AgreementField, AgreementPatch for AgreementSpec {
        Title(String) => title,
        TitleKo(String) => title_ko,
        Kind(AgreementKind) => kind,
        Parties(Vec<Id>) => parties,
        Events(Vec<AgreementEvent>) => events,
        Description(String) => description,
        Source(String) => source,
        Labels(BTreeMap<String, String>) => labels,
});

/// What each rule of [`AgreementSpec::apply`] reads: the field its violation names, and its
/// inputs.
pub const RULE_INPUTS: &[(&str, &[&str])] = &[("parties", &["parties"]), ("labels", &["labels"])];

impl AgreementSpec {
    /// The rules across fields ([`RULE_INPUTS`]): a party besides Korea.
    fn rules(&self, v: &mut Violations) {
        if !self.parties.iter().any(|p| p.as_str() != KOREA) {
            v.add(
                "parties",
                "must name at least one partner besides Korea (tradePartners/kr is implied)",
            );
        }
    }

    /// The status its events give.
    pub fn status(&self) -> Option<AgreementState> {
        status(&self.events)
    }
}

/// The status after the latest event: events in date order (a year-only date before the
/// months of that year; events of the same date in the order given). An amendment leaves the
/// status as it was (in force, if nothing came before). `None` (unknown) without events.
pub fn status(events: &[AgreementEvent]) -> Option<AgreementState> {
    let mut ordered: Vec<&AgreementEvent> = events.iter().collect();
    ordered.sort_by_key(|e| e.date);
    ordered.into_iter().fold(None, |state, e| {
        use AgreementEventKind as E;
        use AgreementState as S;
        Some(match e.kind {
            E::NegotiationsLaunched => S::InNegotiation,
            E::Concluded => S::Concluded,
            E::Signed => S::Signed,
            E::EnteredIntoForce => S::InForce,
            E::Amended => return state.or(Some(S::InForce)),
            E::Suspended => S::Suspended,
            E::Terminated => S::Terminated,
        })
    })
}

/// A stored agreement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TradeAgreement {
    pub id: Id,
    #[serde(flatten)]
    pub spec: AgreementSpec,
    #[serde(flatten)]
    pub stamps: super::Stamps,
}

impl TradeAgreement {
    pub fn name(&self) -> String {
        AGREEMENTS.name(&self.id)
    }

    /// The value of an orderable field, for a page-token cursor.
    pub fn sort_value(&self, field: &str) -> SortValue {
        match field {
            "title" => SortValue::Text(self.spec.title.clone()),
            "kind" => SortValue::Text(self.spec.kind.as_str().to_owned()),
            _ => self.stamps.sort_value(&self.id, field),
        }
    }
}

/// The fields of an agreement: how each is written (update masks) and which can be filtered
/// on and ordered by.
pub const FIELDS: &[FieldDef] = resource_fields!(
    [
        FieldDef::text("title").orderable(),
        FieldDef::enumeration("kind", AgreementKind::FIELD_KIND).orderable(),
        FieldDef::enumeration("status", AgreementState::FIELD_KIND).written(super::list::Write::OutputOnly),
        FieldDef::names("parties", Collection::TradePartners),
        FieldDef::filter(
            "events.kind",
            AgreementEventKind::FIELD_KIND,
            Col::JsonArrayKey {
                col: "events",
                key: "kind",
            },
        )
        .written(super::list::Write::None),
    ],
    search ["title", "title_ko", "description", "source"],
    plain ["title_ko", "events", "description", "source"],
);

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: AgreementEventKind, year: i32, month: u8) -> AgreementEvent {
        AgreementEvent {
            kind,
            date: Date { year, month, day: 0 },
            source: String::new(),
            note: String::new(),
        }
    }

    #[test]
    fn status_follows_the_latest_event_by_date() {
        use AgreementEventKind as E;
        assert_eq!(status(&[]), None);
        // Given out of order: the later entry into force wins.
        let events = [event(E::EnteredIntoForce, 2012, 3), event(E::Signed, 2007, 6)];
        assert_eq!(status(&events), Some(AgreementState::InForce));
        // An amendment keeps the status; a later suspension changes it.
        let mut events = events.to_vec();
        events.push(event(E::Amended, 2018, 9));
        assert_eq!(status(&events), Some(AgreementState::InForce));
        events.push(event(E::Suspended, 2019, 0));
        assert_eq!(status(&events), Some(AgreementState::Suspended));
        assert_eq!(status(&[event(E::Amended, 2020, 1)]), Some(AgreementState::InForce));
        assert_eq!(
            status(&[event(E::NegotiationsLaunched, 2024, 0)]),
            Some(AgreementState::InNegotiation)
        );
    }
}
