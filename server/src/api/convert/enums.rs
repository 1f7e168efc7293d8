//! Proto <-> domain enums: each domain enum mirrors one proto enum without its UNSPECIFIED
//! value, except the states, where UNSPECIFIED is a stored value: "the source does not say"
//! (what an omitted state gives; a request cannot set it).

use registry_proto::v1 as pb;

use crate::domain::{Violations, enums::*};

/// An enum number the proto does not define.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownValue(pub i32);

macro_rules! proto_enum {
    ($name:ident => $proto:ty { $($variant:ident),+ $(,)? }) => {
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
    };
}

proto_enum!(Pillar => pb::Pillar { IndustrialResurgence, TradeNationalInterest, SustainableGrowthPartnership });
proto_enum!(RiskCategory => pb::RiskCategory { Protectionism, CriticalMineralConcentration, ExportDependency, ProductivityDecline, RegionalImbalance, ForeignCompetition, PopulationDecline, Other });
proto_enum!(RiskState => pb::risk_entry::State { Open, Mitigated, Closed });
proto_enum!(RiskSeverity => pb::RiskSeverity { Low, Medium, High, Critical });
proto_enum!(GoalState => pb::policy_goal::State { Unspecified, Planned, Active, OnHold, Closed });
proto_enum!(Outcome => pb::policy_goal::Outcome { Achieved, Partial, Missed, Dropped });
proto_enum!(Confidence => pb::policy_goal::Confidence { Low, Medium, High });
proto_enum!(CheckInConfidence => pb::check_in::Confidence { OnTrack, AtRisk, OffTrack });
proto_enum!(Direction => pb::target::Direction { IncreaseTo, DecreaseTo, StayAbove, StayBelow, IncreaseBy, DecreaseBy });
proto_enum!(Comparator => pb::target::Comparator { AtLeast, MoreThan, AtMost, LessThan, Exactly });
proto_enum!(ProgressState => pb::target_progress::State { NoData, OnTrack, AtRisk, OffTrack, Achieved, BaselineUnknown });
proto_enum!(MilestoneState => pb::milestone::State { Unspecified, Planned, InProgress, Done, Missed, Cancelled });
proto_enum!(Role => pb::Role { Viewer, Editor, Admin });
proto_enum!(PartnerKind => pb::trade_partner::Kind { Country, EconomicBloc, Forum, Group });
proto_enum!(Priority => pb::trade_partner::Priority { Low, Medium, High, Strategic });
proto_enum!(AgreementKind => pb::trade_agreement::Kind { Fta, Cepa, TariffArrangement, Mou, Framework, Other });
proto_enum!(AgreementState => pb::trade_agreement::Status { InNegotiation, Concluded, Signed, InForce, Suspended, Terminated });
proto_enum!(AgreementEventKind => pb::agreement_event::Kind { NegotiationsLaunched, Concluded, Signed, EnteredIntoForce, Amended, Suspended, Terminated });
proto_enum!(EngagementKind => pb::engagement::Kind { Negotiation, Summit, Dialogue, MinisterialMeeting, Other });
proto_enum!(EngagementState => pb::engagement::State { Unspecified, Planned, Ongoing, Concluded, Suspended });

/// Records a violation for an enum field and returns the parsed value (None for unspecified).
pub fn enum_field<T>(
    v: &mut Violations,
    field: &str,
    raw: i32,
    parse: impl Fn(i32) -> Result<Option<T>, UnknownValue>,
    required: bool,
    expected: impl Fn() -> String,
) -> Option<T> {
    match parse(raw) {
        Ok(Some(x)) => Some(x),
        Ok(None) => {
            if required {
                v.add(field, format!("is required; one of {}", expected()));
            }
            None
        }
        Err(UnknownValue(_)) => {
            v.add(field, format!("unknown value {raw}; one of {}", expected()));
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
