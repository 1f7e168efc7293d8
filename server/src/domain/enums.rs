//! Domain enums, each mirroring one proto enum without its UNSPECIFIED value. They are
//! stored by their short name (`INDUSTRIAL_RESURGENCE`), which is also what filters accept.

/// The stored name of a variant: its identifier in SCREAMING_SNAKE_CASE (`OnHold` ->
/// `ON_HOLD`), as the proto spells the value after its prefix.
const fn screaming_len(ident: &str) -> usize {
    let b = ident.as_bytes();
    let (mut i, mut n) = (0, 0);
    while i < b.len() {
        n += if i > 0 && b[i].is_ascii_uppercase() { 2 } else { 1 };
        i += 1;
    }
    n
}

const fn screaming<const N: usize>(ident: &str) -> [u8; N] {
    let b = ident.as_bytes();
    let mut out = [0u8; N];
    let (mut i, mut n) = (0, 0);
    while i < b.len() {
        if i > 0 && b[i].is_ascii_uppercase() {
            out[n] = b'_';
            n += 1;
        }
        out[n] = b[i].to_ascii_uppercase();
        n += 1;
        i += 1;
    }
    out
}

/// `screaming` as a `&'static str`, computed at compile time.
macro_rules! screaming_str {
    ($variant:ident) => {{
        const BYTES: [u8; screaming_len(stringify!($variant))] = screaming(stringify!($variant));
        const S: &str = match std::str::from_utf8(&BYTES) {
            Ok(s) => s,
            Err(_) => panic!("an identifier is ASCII"),
        };
        S
    }};
}

macro_rules! domain_enum {
    ($(#[$m:meta])* $name:ident, prefix $prefix:literal { $($variant:ident),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every value, in proto order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The proto value name without the enum prefix, e.g. `ACTIVE`.
            pub const PREFIX: &'static str = $prefix;

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => screaming_str!($variant)),+ }
            }

            /// Accepts the short name (`ACTIVE`) or the full proto name (`STATE_ACTIVE`).
            pub fn parse(s: &str) -> Option<Self> {
                let short = s.strip_prefix($prefix).unwrap_or(s);
                Self::ALL.iter().copied().find(|v| v.as_str() == short)
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
    Pillar, prefix "PILLAR_" { IndustrialResurgence, TradeNationalInterest, SustainableGrowthPartnership });

domain_enum!(RiskCategory, prefix "RISK_CATEGORY_" { Protectionism, CriticalMineralConcentration, ExportDependency, ProductivityDecline, RegionalImbalance, ForeignCompetition, PopulationDecline, Other });

domain_enum!(
    /// Where an entry of the risk register stands.
    RiskState, prefix "STATE_" { Open, Mitigated, Closed });

domain_enum!(RiskSeverity, prefix "RISK_SEVERITY_" { Low, Medium, High, Critical });

domain_enum!(
    /// Lifecycle phase of a goal.
    GoalState, prefix "STATE_" { Unspecified, Planned, Active, OnHold, Closed });

domain_enum!(Outcome, prefix "OUTCOME_" { Achieved, Partial, Missed, Dropped });

domain_enum!(Confidence, prefix "CONFIDENCE_" { Low, Medium, High });

domain_enum!(
    /// A check-in's stated confidence that its goal will be met.
    CheckInConfidence, prefix "CONFIDENCE_" { OnTrack, AtRisk, OffTrack });

domain_enum!(Direction, prefix "DIRECTION_" { IncreaseTo, DecreaseTo, StayAbove, StayBelow, IncreaseBy, DecreaseBy });

impl Direction {
    /// INCREASE_BY / DECREASE_BY: the target is a change from the baseline.
    pub fn is_relative(self) -> bool {
        matches!(self, Direction::IncreaseBy | Direction::DecreaseBy)
    }
}

domain_enum!(Comparator, prefix "COMPARATOR_" { AtLeast, MoreThan, AtMost, LessThan, Exactly });

domain_enum!(
    /// The computed trajectory state of a target (see `domain::progress`).
    ProgressState, prefix "STATE_" { NoData, OnTrack, AtRisk, OffTrack, Achieved, BaselineUnknown });

domain_enum!(MilestoneState, prefix "STATE_" { Unspecified, Planned, InProgress, Done, Missed, Cancelled });

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
    Role, prefix "ROLE_" { Viewer, Editor, Admin });

domain_enum!(
    /// What a trade partner is.
    PartnerKind, prefix "KIND_" { Country, EconomicBloc, Forum, Group });

domain_enum!(Priority, prefix "PRIORITY_" { Low, Medium, High, Strategic });

domain_enum!(
    /// The form of a top-level agreement (`TradeAgreement.Kind`).
    AgreementKind, prefix "KIND_" { Fta, Cepa, TariffArrangement, Mou, Framework, Other });

domain_enum!(
    /// Where a top-level agreement stands, from its latest event (`TradeAgreement.Status`).
    AgreementState, prefix "STATUS_" { InNegotiation, Concluded, Signed, InForce, Suspended, Terminated });

domain_enum!(
    /// One event in an agreement's lifecycle (`AgreementEvent.Kind`).
    AgreementEventKind, prefix "KIND_" { NegotiationsLaunched, Concluded, Signed, EnteredIntoForce, Amended, Suspended, Terminated });

domain_enum!(EngagementKind, prefix "KIND_" { Negotiation, Summit, Dialogue, MinisterialMeeting, Other });

domain_enum!(EngagementState, prefix "STATE_" { Unspecified, Planned, Ongoing, Concluded, Suspended });

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
