//! Domain enums, each mirroring one proto enum without its UNSPECIFIED value. They are
//! stored by their short name (`INDUSTRIAL_RESURGENCE`), which is also what filters accept.

macro_rules! domain_enum {
    ($(#[$m:meta])* $name:ident, prefix $prefix:literal { $($variant:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        pub enum $name { $( #[serde(rename = $s)] $variant ),+ }

        impl $name {
            /// Every value, in proto order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The proto value name without the enum prefix, e.g. `ACTIVE`.
            pub const PREFIX: &'static str = $prefix;

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }

            /// Accepts the short name (`ACTIVE`) or the full proto name (`STATE_ACTIVE`).
            pub fn parse(s: &str) -> Option<Self> {
                let short = s.strip_prefix($prefix).unwrap_or(s);
                match short { $($s => Some($name::$variant),)+ _ => None }
            }


            /// How `filter` parses this enum (short or full name; the stored short name).
            pub const FIELD_KIND: crate::domain::list::FieldKind = crate::domain::list::FieldKind::Enum {
                parse: |s| Self::parse(s).map(Self::as_str),
                expected: Self::expected,
            };

            /// Human list of the values a client may set, for error messages (UNSPECIFIED,
            /// "the source does not say", is what an omitted value gives).
            pub fn expected() -> String {
                Self::ALL
                    .iter()
                    .map(|v| v.as_str())
                    .filter(|s| *s != "UNSPECIFIED")
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

domain_enum!(
    /// The three policy pillars.
    Pillar, prefix "PILLAR_" {
    IndustrialResurgence = "INDUSTRIAL_RESURGENCE",
    TradeNationalInterest = "TRADE_NATIONAL_INTEREST",
    SustainableGrowthPartnership = "SUSTAINABLE_GROWTH_PARTNERSHIP",
});

domain_enum!(RiskCategory, prefix "RISK_CATEGORY_" {
    Protectionism = "PROTECTIONISM",
    CriticalMineralConcentration = "CRITICAL_MINERAL_CONCENTRATION",
    ExportDependency = "EXPORT_DEPENDENCY",
    ProductivityDecline = "PRODUCTIVITY_DECLINE",
    RegionalImbalance = "REGIONAL_IMBALANCE",
    ForeignCompetition = "FOREIGN_COMPETITION",
    PopulationDecline = "POPULATION_DECLINE",
    Other = "OTHER",
});

domain_enum!(
    /// Where an entry of the risk register stands.
    RiskState, prefix "STATE_" {
    Open = "OPEN",
    Mitigated = "MITIGATED",
    Closed = "CLOSED",
});

domain_enum!(RiskSeverity, prefix "RISK_SEVERITY_" {
    Low = "LOW",
    Medium = "MEDIUM",
    High = "HIGH",
    Critical = "CRITICAL",
});

domain_enum!(
    /// Lifecycle phase of a goal.
    GoalState, prefix "STATE_" {
    Unspecified = "UNSPECIFIED",
    Planned = "PLANNED",
    Active = "ACTIVE",
    OnHold = "ON_HOLD",
    Closed = "CLOSED",
});

domain_enum!(Outcome, prefix "OUTCOME_" {
    Achieved = "ACHIEVED",
    Partial = "PARTIAL",
    Missed = "MISSED",
    Dropped = "DROPPED",
});

domain_enum!(Confidence, prefix "CONFIDENCE_" {
    Low = "LOW",
    Medium = "MEDIUM",
    High = "HIGH",
});

domain_enum!(
    /// A check-in's stated confidence that its goal will be met.
    CheckInConfidence, prefix "CONFIDENCE_" {
    OnTrack = "ON_TRACK",
    AtRisk = "AT_RISK",
    OffTrack = "OFF_TRACK",
});

domain_enum!(Direction, prefix "DIRECTION_" {
    IncreaseTo = "INCREASE_TO",
    DecreaseTo = "DECREASE_TO",
    StayAbove = "STAY_ABOVE",
    StayBelow = "STAY_BELOW",
    IncreaseBy = "INCREASE_BY",
    DecreaseBy = "DECREASE_BY",
});

impl Direction {
    /// INCREASE_BY / DECREASE_BY: the target is a change from the baseline.
    pub fn is_relative(self) -> bool {
        matches!(self, Direction::IncreaseBy | Direction::DecreaseBy)
    }
}

domain_enum!(Comparator, prefix "COMPARATOR_" {
    AtLeast = "AT_LEAST",
    MoreThan = "MORE_THAN",
    AtMost = "AT_MOST",
    LessThan = "LESS_THAN",
    Exactly = "EXACTLY",
});

domain_enum!(
    /// The computed trajectory state of a target (see `domain::progress`).
    ProgressState, prefix "STATE_" {
    NoData = "NO_DATA",
    OnTrack = "ON_TRACK",
    AtRisk = "AT_RISK",
    OffTrack = "OFF_TRACK",
    Achieved = "ACHIEVED",
    BaselineUnknown = "BASELINE_UNKNOWN",
});

domain_enum!(MilestoneState, prefix "STATE_" {
    Unspecified = "UNSPECIFIED",
    Planned = "PLANNED",
    InProgress = "IN_PROGRESS",
    Done = "DONE",
    Missed = "MISSED",
    Cancelled = "CANCELLED",
});

impl Role {
    /// What a role may do, as a number: each role may do everything a role of lower rank
    /// may. Stated here, not taken from the order of the variants (which follows the proto).
    pub const fn rank(self) -> u8 {
        match self {
            Role::Viewer => 1,
            Role::Editor => 2,
            Role::Admin => 3,
        }
    }
}

domain_enum!(
    /// What a token may do; each role includes those of lower [`Role::rank`].
    Role, prefix "ROLE_" {
    Viewer = "VIEWER",
    Editor = "EDITOR",
    Admin = "ADMIN",
});

domain_enum!(
    /// What a trade partner is.
    PartnerKind, prefix "KIND_" {
    Country = "COUNTRY",
    EconomicBloc = "ECONOMIC_BLOC",
    Forum = "FORUM",
    Group = "GROUP",
});

domain_enum!(Priority, prefix "PRIORITY_" {
    Low = "LOW",
    Medium = "MEDIUM",
    High = "HIGH",
    Strategic = "STRATEGIC",
});

domain_enum!(
    /// The form of a top-level agreement (`TradeAgreement.Kind`).
    AgreementKind, prefix "KIND_" {
    Fta = "FTA",
    Cepa = "CEPA",
    TariffArrangement = "TARIFF_ARRANGEMENT",
    Mou = "MOU",
    Framework = "FRAMEWORK",
    Other = "OTHER",
});

domain_enum!(
    /// Where a top-level agreement stands, from its latest event (`TradeAgreement.Status`).
    AgreementState, prefix "STATUS_" {
    InNegotiation = "IN_NEGOTIATION",
    Concluded = "CONCLUDED",
    Signed = "SIGNED",
    InForce = "IN_FORCE",
    Suspended = "SUSPENDED",
    Terminated = "TERMINATED",
});

domain_enum!(
    /// One event in an agreement's lifecycle (`AgreementEvent.Kind`).
    AgreementEventKind, prefix "KIND_" {
    NegotiationsLaunched = "NEGOTIATIONS_LAUNCHED",
    Concluded = "CONCLUDED",
    Signed = "SIGNED",
    EnteredIntoForce = "ENTERED_INTO_FORCE",
    Amended = "AMENDED",
    Suspended = "SUSPENDED",
    Terminated = "TERMINATED",
});

domain_enum!(EngagementKind, prefix "KIND_" {
    Negotiation = "NEGOTIATION",
    Summit = "SUMMIT",
    Dialogue = "DIALOGUE",
    MinisterialMeeting = "MINISTERIAL_MEETING",
    Other = "OTHER",
});

domain_enum!(EngagementState, prefix "STATE_" {
    Unspecified = "UNSPECIFIED",
    Planned = "PLANNED",
    Ongoing = "ONGOING",
    Concluded = "CONCLUDED",
    Suspended = "SUSPENDED",
});

impl GoalState {
    /// The lifecycle: UNSPECIFIED (not stated) -> any stated state; PLANNED -> ACTIVE | ON_HOLD | CLOSED; ACTIVE <-> ON_HOLD; ACTIVE |
    /// ON_HOLD -> CLOSED; CLOSED -> ACTIVE (reopen).
    pub fn can_become(self, next: GoalState) -> bool {
        use GoalState::*;
        matches!(
            (self, next),
            (Unspecified, Planned | Active | OnHold | Closed)
                | (Planned, Active | OnHold | Closed)
                | (Active, OnHold | Closed)
                | (OnHold, Active | Closed)
                | (Closed, Active)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_short_and_full_names() {
        for p in Pillar::ALL {
            assert_eq!(Pillar::parse(p.as_str()), Some(*p));
        }
        assert_eq!(
            Pillar::parse("PILLAR_INDUSTRIAL_RESURGENCE"),
            Some(Pillar::IndustrialResurgence)
        );
        assert_eq!(Pillar::parse("industrial_resurgence"), None);
    }

    #[test]
    fn lifecycle() {
        assert!(GoalState::Planned.can_become(GoalState::Active));
        assert!(GoalState::Closed.can_become(GoalState::Active));
        assert!(!GoalState::Closed.can_become(GoalState::Planned));
        assert!(!GoalState::Active.can_become(GoalState::Planned));
        assert!(!GoalState::Active.can_become(GoalState::Active));
        // Not stated: any stated state may follow; nothing goes back to "not stated".
        for s in [
            GoalState::Planned,
            GoalState::Active,
            GoalState::OnHold,
            GoalState::Closed,
        ] {
            assert!(GoalState::Unspecified.can_become(s));
            assert!(!s.can_become(GoalState::Unspecified));
        }
        assert!(!GoalState::expected().contains("UNSPECIFIED"));
    }
}
