//! Proto <-> domain enums: each domain enum mirrors one proto enum without its UNSPECIFIED
//! value, except the states, where UNSPECIFIED is a stored value: "the source does not say"
//! (what an omitted state gives; a request cannot set it).

use registry_proto::v1 as pb;

use crate::domain::{Violations, enums::*};

/// An enum number the proto does not define.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownValue(pub i32);

macro_rules! proto_enums {
    ($($name:ident => $proto:ty { $($variant:ident),+ $(,)? })+) => {$(
        impl $name {
            /// `Ok(None)` for UNSPECIFIED (0), `Err` for a value the proto does not define.
            pub fn from_proto(v: i32) -> Result<Option<Self>, UnknownValue> {
                if v == 0 {
                    return Ok(None);
                }
                match <$proto>::try_from(v) {
                    $(Ok(<$proto>::$variant) => Ok(Some($name::$variant)),)+
                    _ => Err(UnknownValue(v)),
                }
            }

            pub fn to_proto(self) -> i32 {
                match self { $($name::$variant => <$proto>::$variant as i32),+ }
            }
        }

        impl ProtoEnum for $name {
            fn from_number(v: i32) -> Result<Option<Self>, UnknownValue> {
                Self::from_proto(v)
            }
            fn one_of() -> String {
                Self::expected()
            }
        }
    )+

        /// The stored names (`domain::enums`, derived from the variants) are the proto's value
        /// names without their prefix.
        #[cfg(test)]
        #[test]
        fn stored_names_are_the_proto_names() {
            $(for v in $name::ALL {
                let proto = <$proto>::try_from(v.to_proto()).map(|p| p.as_str_name());
                assert_eq!(proto, Ok(format!("{}{}", $name::PREFIX, v.as_str()).as_str()), "{v:?}");
                assert_eq!(serde_json::to_value(v).ok(), Some(serde_json::Value::from(v.as_str())));
            })+
        }
    };
}

proto_enums! {
    Pillar => pb::Pillar { IndustrialResurgence, TradeNationalInterest, SustainableGrowthPartnership }
    RiskCategory => pb::RiskCategory { Protectionism, CriticalMineralConcentration, ExportDependency, ProductivityDecline, RegionalImbalance, ForeignCompetition, PopulationDecline, Other }
    RiskState => pb::risk_entry::State { Open, Mitigated, Closed }
    RiskSeverity => pb::RiskSeverity { Low, Medium, High, Critical }
    GoalState => pb::policy_goal::State { Unspecified, Planned, Active, OnHold, Closed }
    Outcome => pb::policy_goal::Outcome { Achieved, Partial, Missed, Dropped }
    Confidence => pb::policy_goal::Confidence { Low, Medium, High }
    CheckInConfidence => pb::check_in::Confidence { OnTrack, AtRisk, OffTrack }
    Direction => pb::target::Direction { IncreaseTo, DecreaseTo, StayAbove, StayBelow, IncreaseBy, DecreaseBy }
    Comparator => pb::target::Comparator { AtLeast, MoreThan, AtMost, LessThan, Exactly }
    ProgressState => pb::target_progress::State { NoData, OnTrack, AtRisk, OffTrack, Achieved, BaselineUnknown }
    MilestoneState => pb::milestone::State { Unspecified, Planned, InProgress, Done, Missed, Cancelled }
    Role => pb::Role { Viewer, Editor, Admin }
    PartnerKind => pb::trade_partner::Kind { Country, EconomicBloc, Forum, Group }
    Priority => pb::trade_partner::Priority { Low, Medium, High, Strategic }
    AgreementKind => pb::trade_agreement::Kind { Fta, Cepa, TariffArrangement, Mou, Framework, Other }
    AgreementState => pb::trade_agreement::Status { InNegotiation, Concluded, Signed, InForce, Suspended, Terminated }
    AgreementEventKind => pb::agreement_event::Kind { NegotiationsLaunched, Concluded, Signed, EnteredIntoForce, Amended, Suspended, Terminated }
    EngagementKind => pb::engagement::Kind { Negotiation, Summit, Dialogue, MinisterialMeeting, Other }
    EngagementState => pb::engagement::State { Unspecified, Planned, Ongoing, Concluded, Suspended }
}

/// A domain enum read from its proto number (implemented by `proto_enums!`).
pub trait ProtoEnum: Sized {
    fn from_number(v: i32) -> Result<Option<Self>, UnknownValue>;
    /// The values a client may set, for error messages.
    fn one_of() -> String;
}

/// Records a violation for an enum field and returns the parsed value (None for unspecified).
pub fn enum_field<T: ProtoEnum>(v: &mut Violations, field: &str, raw: i32, required: bool) -> Option<T> {
    match T::from_number(raw) {
        Ok(Some(x)) => Some(x),
        Ok(None) => {
            if required {
                v.add(field, format!("is required; one of {}", T::one_of()));
            }
            None
        }
        Err(UnknownValue(_)) => {
            v.add(field, format!("unknown value {raw}; one of {}", T::one_of()));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_unknown() {
        for p in Pillar::ALL {
            assert_eq!(Pillar::from_proto(p.to_proto()), Ok(Some(*p)));
        }
        assert_eq!(Pillar::from_proto(0), Ok(None));
        assert_eq!(Pillar::from_proto(99), Err(UnknownValue(99)));
    }
}
