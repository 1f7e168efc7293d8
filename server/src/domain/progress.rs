//! Progress of a target from its measurements: a pure function of the target and of the
//! earliest and latest measurement of its metric, so the result can be stored (the
//! `progress_states` column that `progress_state` filters use) and recomputed identically.
//!
//! The rule (also in the README, "Progress"):
//!
//! 1. No measurement of the metric: **NO_DATA**.
//! 2. The *latest* measurement is the one with the latest `observe_time` (among equal times,
//!    the one recorded last). The *baseline* is `baseline_value`, else the value of the
//!    earliest measurement; the *start* is `baseline_date` (its first day), else the earliest
//!    measurement's `observe_time`. The *deadline* is the end of `target_year` (1 January of
//!    the next year, 00:00 UTC).
//! 3. `percent_complete` = (latest − baseline) / (target − baseline) × 100 (unset when the
//!    target equals the baseline).
//! 4. STAY_ABOVE / STAY_BELOW: the latest value satisfies the comparator against
//!    `target_value` → **ACHIEVED** if it was observed at or after the deadline, else
//!    **ON_TRACK**; not satisfied → **OFF_TRACK**.
//! 5. INCREASE_TO / DECREASE_TO: satisfied → **ACHIEVED**. Not satisfied and observed at or
//!    after the deadline → **OFF_TRACK**. Otherwise compare the fraction of the distance
//!    covered, (latest − baseline) / (target − baseline), with the expected fraction on the
//!    piecewise-linear path from (start, baseline) through each interim target (at the end of
//!    its year) to (deadline, target), evaluated at the latest `observe_time`:
//!    **ON_TRACK** if actual ≥ expected − 0.10, **AT_RISK** if actual ≥ expected − 0.25,
//!    else **OFF_TRACK**. When the target equals the baseline (no distance to cover) and it is
//!    not met: **AT_RISK**.
//!
//! 6. INCREASE_BY / DECREASE_BY (relative targets): without `baseline_value`,
//!    **BASELINE_UNKNOWN** (no progress is computed: the earliest measurement is not taken for
//!    the baseline of a relative target). Otherwise the target is the absolute one it means,
//!    baseline ± the change (`target_value`, or `target_value`% of the baseline with
//!    `percent_of_baseline`; interim values likewise), rising (INCREASE_TO) or falling
//!    (DECREASE_TO, the comparator mirrored: a decrease of at least 10 is a value of at most
//!    baseline − 10), and rules 1–5 apply to it.
//!
//! The state depends only on stored data, never on the current time: a target whose latest
//! measurement is old keeps the state it had at that measurement.

use time::{Month, OffsetDateTime};

use super::{
    enums::{Comparator, Direction, ProgressState},
    goal::{Date, InterimTarget, Target},
};

/// A tolerance of 10 percentage points of the distance for ON_TRACK.
pub const ON_TRACK_TOLERANCE: f64 = 0.10;
/// A tolerance of 25 percentage points of the distance for AT_RISK.
pub const AT_RISK_TOLERANCE: f64 = 0.25;

/// One measured value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    pub value: f64,
    pub time: OffsetDateTime,
}

/// The computed progress of one target.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub state: ProgressState,
    pub latest: Option<Observation>,
    pub percent_complete: Option<f64>,
    /// Which rule applied, with its inputs.
    pub explanation: String,
}

fn midnight(year: i32, month: u8, day: u8) -> OffsetDateTime {
    let month = Month::try_from(month.clamp(1, 12)).unwrap_or(Month::January);
    time::Date::from_calendar_date(year, month, day.max(1))
        .or_else(|_| time::Date::from_calendar_date(year, month, 1))
        .map(|d| d.midnight().assume_utc())
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The first instant of a (possibly partial) date.
pub fn start_of(d: Date) -> OffsetDateTime {
    midnight(d.year, d.month, d.day)
}

/// The end of `year`: 1 January of the next year, 00:00 UTC.
pub fn end_of_year(year: i32) -> OffsetDateTime {
    midnight(year.saturating_add(1), 1, 1)
}

/// Whether `value` satisfies the comparator against `target`.
pub fn satisfies(c: Comparator, value: f64, target: f64) -> bool {
    match c {
        Comparator::AtLeast => value >= target,
        Comparator::MoreThan => value > target,
        Comparator::AtMost => value <= target,
        Comparator::LessThan => value < target,
        Comparator::Exactly => (value - target).abs() <= 1e-9 * target.abs().max(1.0),
    }
}

fn symbol(c: Comparator) -> &'static str {
    match c {
        Comparator::AtLeast => ">=",
        Comparator::MoreThan => ">",
        Comparator::AtMost => "<=",
        Comparator::LessThan => "<",
        Comparator::Exactly => "=",
    }
}

fn secs(t: OffsetDateTime) -> f64 {
    t.unix_timestamp() as f64 + f64::from(t.nanosecond()) / 1e9
}

fn day(t: OffsetDateTime) -> String {
    t.date().to_string()
}

/// The expected fraction of the distance covered at `at`, on the piecewise-linear path
/// through `points` (times ascending, fractions); before the first point 0, after the last 1.
fn expected_fraction(points: &[(f64, f64)], at: f64) -> f64 {
    let Some(&(first_t, first_f)) = points.first() else {
        return 0.0;
    };
    if at <= first_t {
        return first_f;
    }
    for w in points.windows(2) {
        let ((t0, f0), (t1, f1)) = (w[0], w[1]);
        if at <= t1 {
            return if t1 > t0 {
                f0 + (f1 - f0) * (at - t0) / (t1 - t0)
            } else {
                f1
            };
        }
    }
    points.last().map_or(1.0, |&(_, f)| f)
}

/// Computes a target's progress from the earliest and latest measurement of its metric. A
/// relative target (rule 6) is first turned into the absolute one it means.
pub fn compute(t: &Target, earliest: Option<&Observation>, latest: Option<&Observation>) -> Progress {
    if !t.direction.is_relative() {
        return compute_absolute(t, earliest, latest);
    }
    let change = |v: f64, b: f64| if t.percent_of_baseline { b * v / 100.0 } else { v };
    let size = if t.percent_of_baseline {
        format!("{}% of the baseline", t.target_value)
    } else {
        format!("{} {}", t.target_value, t.unit)
    };
    let verb = if t.direction == Direction::IncreaseBy {
        "increase"
    } else {
        "decrease"
    };
    let Some(b) = t.baseline_value else {
        return Progress {
            state: ProgressState::BaselineUnknown,
            latest: latest.copied(),
            percent_complete: None,
            explanation: format!(
                "BASELINE_UNKNOWN: the target is relative ({verb} by {} {size}) and no baseline_value is \
                 recorded; set the baseline to compute progress",
                symbol(t.comparator)
            ),
        };
    };
    let (sign, direction, comparator) = match t.direction {
        Direction::IncreaseBy => (1.0, Direction::IncreaseTo, t.comparator),
        _ => (
            -1.0,
            Direction::DecreaseTo,
            match t.comparator {
                Comparator::AtLeast => Comparator::AtMost,
                Comparator::MoreThan => Comparator::LessThan,
                Comparator::AtMost => Comparator::AtLeast,
                Comparator::LessThan => Comparator::MoreThan,
                Comparator::Exactly => Comparator::Exactly,
            },
        ),
    };
    let absolute = Target {
        target_value: b + sign * change(t.target_value, b),
        direction,
        comparator,
        interim_targets: t
            .interim_targets
            .iter()
            .map(|i| InterimTarget {
                year: i.year,
                value: b + sign * change(i.value, b),
            })
            .collect(),
        percent_of_baseline: false,
        ..t.clone()
    };
    let mut p = compute_absolute(&absolute, earliest, latest);
    p.explanation = format!(
        "{verb} by {} {size} from baseline {b} means a value {} {}; {}",
        symbol(t.comparator),
        symbol(comparator),
        absolute.target_value,
        p.explanation
    );
    p
}

fn compute_absolute(t: &Target, earliest: Option<&Observation>, latest: Option<&Observation>) -> Progress {
    let Some(&l) = latest else {
        return Progress {
            state: ProgressState::NoData,
            latest: None,
            percent_complete: None,
            explanation: format!("NO_DATA: no measurement of {} yet", t.metric),
        };
    };
    let e = earliest.copied().unwrap_or(l);
    let (baseline, baseline_from) = match t.baseline_value {
        Some(b) => (b, "baseline_value"),
        None => (e.value, "earliest measurement"),
    };
    let (start, start_from) = match t.baseline_date {
        Some(d) => (start_of(d), "baseline_date"),
        None => (e.time, "earliest measurement"),
    };
    let deadline = end_of_year(t.target_year);
    let target = t.target_value;
    let distance = target - baseline;
    let percent_complete = (distance != 0.0).then(|| (l.value - baseline) / distance * 100.0);
    let met = satisfies(t.comparator, l.value, target);
    let cmp = symbol(t.comparator);
    let latest_text = format!("latest value {} observed {}", l.value, day(l.time));
    let done = |state, explanation| Progress {
        state,
        latest: Some(l),
        percent_complete,
        explanation,
    };

    if matches!(t.direction, Direction::StayAbove | Direction::StayBelow) {
        return if !met {
            done(
                ProgressState::OffTrack,
                format!("OFF_TRACK: {latest_text} is not {cmp} {target}"),
            )
        } else if l.time >= deadline {
            done(
                ProgressState::Achieved,
                format!(
                    "ACHIEVED: {latest_text} is {cmp} {target} at or after the end of {}",
                    t.target_year
                ),
            )
        } else {
            done(
                ProgressState::OnTrack,
                format!(
                    "ON_TRACK: {latest_text} is {cmp} {target}; it must still hold at the end of {}",
                    t.target_year
                ),
            )
        };
    }
    if met {
        return done(
            ProgressState::Achieved,
            format!("ACHIEVED: {latest_text} is {cmp} {target}"),
        );
    }
    if l.time >= deadline {
        return done(
            ProgressState::OffTrack,
            format!(
                "OFF_TRACK: deadline passed: {latest_text}, at or after the end of {}, is not {cmp} {target}",
                t.target_year
            ),
        );
    }
    if distance == 0.0 {
        return done(
            ProgressState::AtRisk,
            format!("AT_RISK: {latest_text} is not {cmp} {target}, which equals the baseline ({baseline_from})"),
        );
    }
    let mut points = vec![(secs(start), 0.0)];
    for it in &t.interim_targets {
        let at = end_of_year(it.year);
        if at > start && at < deadline {
            points.push((secs(at), (it.value - baseline) / distance));
        }
    }
    points.push((secs(deadline), 1.0));
    let expected = expected_fraction(&points, secs(l.time));
    let actual = (l.value - baseline) / distance;
    let state = if actual >= expected - ON_TRACK_TOLERANCE {
        ProgressState::OnTrack
    } else if actual >= expected - AT_RISK_TOLERANCE {
        ProgressState::AtRisk
    } else {
        ProgressState::OffTrack
    };
    let interim = if points.len() > 2 {
        format!(" through {} interim target(s)", points.len() - 2)
    } else {
        String::new()
    };
    done(
        state,
        format!(
            "{state}: trajectory: {latest_text} covers {:.1}% of the way from the baseline {baseline} ({baseline_from}) \
             to {target}; the linear path from {} ({start_from}){interim} to the end of {} expects {:.1}% by then \
             (ON_TRACK from {:.1}%, AT_RISK from {:.1}%)",
            actual * 100.0,
            day(start),
            t.target_year,
            expected * 100.0,
            (expected - ON_TRACK_TOLERANCE) * 100.0,
            (expected - AT_RISK_TOLERANCE) * 100.0,
        ),
    )
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn target(direction: Direction, comparator: Comparator, target_value: f64, year: i32) -> Target {
        Target {
            metric: "m".into(),
            description: String::new(),
            unit: "u".into(),
            baseline_value: None,
            baseline_date: None,
            target_value,
            direction,
            comparator,
            target_year: year,
            interim_targets: vec![],
            percent_of_baseline: false,
        }
    }

    fn obs(value: f64, time: OffsetDateTime) -> Observation {
        Observation { value, time }
    }

    /// `t` with a baseline of `value` at `date` (year, month, day; 0 for not stated).
    fn from_baseline(mut t: Target, value: f64, (year, month, day): (i32, u8, u8)) -> Target {
        t.baseline_value = Some(value);
        t.baseline_date = Some(Date { year, month, day });
        t
    }

    fn increase() -> Target {
        // 0 -> 100 over 2020-01-01 .. 2030-01-01 (end of 2029): 10 points a year.
        let t = target(Direction::IncreaseTo, Comparator::AtLeast, 100.0, 2029);
        from_baseline(t, 0.0, (2020, 0, 0))
    }

    fn state(t: &Target, e: Option<Observation>, l: Observation) -> ProgressState {
        compute(t, e.as_ref(), Some(&l)).state
    }

    /// The state of `t` for each latest measurement `(value, time)`, without an earliest one.
    fn states(t: &Target, cases: &[(f64, OffsetDateTime)]) -> Vec<ProgressState> {
        cases.iter().map(|&(v, at)| state(t, None, obs(v, at))).collect()
    }

    #[test]
    fn no_data() {
        let p = compute(&increase(), None, None);
        assert_eq!(p.state, ProgressState::NoData);
        assert_eq!(p.latest, None);
        assert_eq!(p.percent_complete, None);
        assert!(p.explanation.starts_with("NO_DATA"), "{}", p.explanation);
    }

    #[test]
    fn trajectory_bands() {
        let t = increase();
        // Half way through the period (2025-01-01 is 5 of 10 years): 50% expected.
        let at = datetime!(2025-01-01 0:00 UTC);
        let half = expected_fraction(
            &[
                (secs(datetime!(2020-01-01 0:00 UTC)), 0.0),
                (secs(datetime!(2030-01-01 0:00 UTC)), 1.0),
            ],
            secs(at),
        );
        assert!((half - 0.5).abs() < 0.001, "{half}");
        assert_eq!(
            states(&t, &[(50.0, at), (41.0, at), (35.0, at), (20.0, at), (100.0, at)]),
            [
                ProgressState::OnTrack,
                ProgressState::OnTrack,
                ProgressState::AtRisk,
                ProgressState::OffTrack,
                ProgressState::Achieved
            ]
        );
        let p = compute(&t, None, Some(&obs(35.0, at)));
        assert_eq!(p.percent_complete, Some(35.0));
        assert!(p.explanation.starts_with("AT_RISK: trajectory"), "{}", p.explanation);
        assert!(p.explanation.contains("35.0%"), "{}", p.explanation);
    }

    #[test]
    fn deadline_passed() {
        let t = increase();
        let after = datetime!(2030-01-01 0:00 UTC);
        assert_eq!(
            states(&t, &[(99.0, after), (100.0, after)]),
            [ProgressState::OffTrack, ProgressState::Achieved]
        );
        let p = compute(&t, None, Some(&obs(99.0, after)));
        assert!(p.explanation.contains("deadline passed"), "{}", p.explanation);
    }

    #[test]
    fn comparators() {
        let mut t = increase();
        t.comparator = Comparator::MoreThan;
        let at = datetime!(2021-06-01 0:00 UTC);
        assert_ne!(state(&t, None, obs(100.0, at)), ProgressState::Achieved);
        assert_eq!(state(&t, None, obs(100.5, at)), ProgressState::Achieved);
        t.comparator = Comparator::Exactly;
        assert_eq!(state(&t, None, obs(100.0, at)), ProgressState::Achieved);
        assert!(satisfies(Comparator::LessThan, 1.0, 2.0));
        assert!(!satisfies(Comparator::AtMost, 2.5, 2.0));
    }

    #[test]
    fn decrease_uses_the_signed_distance() {
        let t = target(Direction::DecreaseTo, Comparator::AtMost, 40.0, 2029);
        let t = from_baseline(t, 100.0, (2020, 1, 1));
        let at = datetime!(2025-01-01 0:00 UTC);
        // 60 to go; about half expected (70); 80 covers a third.
        assert_eq!(
            states(&t, &[(70.0, at), (80.0, at), (110.0, at), (40.0, at)]),
            [
                ProgressState::OnTrack,
                ProgressState::AtRisk,
                ProgressState::OffTrack,
                ProgressState::Achieved
            ]
        );
        let p = compute(&t, None, Some(&obs(70.0, at)));
        assert!((p.percent_complete.unwrap_or_default() - 50.0).abs() < 1e-9);
    }

    #[test]
    fn baseline_falls_back_to_the_earliest_measurement() {
        let t = target(Direction::IncreaseTo, Comparator::AtLeast, 110.0, 2029);
        let e = obs(10.0, datetime!(2020-01-01 0:00 UTC));
        let l = obs(60.0, datetime!(2025-01-01 0:00 UTC));
        let p = compute(&t, Some(&e), Some(&l));
        assert_eq!(p.percent_complete, Some(50.0));
        assert_eq!(p.state, ProgressState::OnTrack);
        assert!(p.explanation.contains("earliest measurement"), "{}", p.explanation);
        // A single measurement is its own baseline and start: nothing expected yet.
        assert_eq!(state(&t, None, e), ProgressState::OnTrack);
        assert_eq!(compute(&t, Some(&e), Some(&e)).percent_complete, Some(0.0));
    }

    #[test]
    fn interim_targets_bend_the_path() {
        let mut t = increase();
        // Front-loaded: 80 by the end of 2021 (2 of 10 years).
        t.interim_targets = vec![InterimTarget {
            year: 2021,
            value: 80.0,
        }];
        let at = datetime!(2022-01-01 0:00 UTC);
        // Linear alone would expect 20%; the interim expects 80%.
        assert_eq!(
            states(&t, &[(30.0, at), (60.0, at), (75.0, at)]),
            [ProgressState::OffTrack, ProgressState::AtRisk, ProgressState::OnTrack]
        );
        let p = compute(&t, None, Some(&obs(75.0, at)));
        assert!(p.explanation.contains("1 interim target"), "{}", p.explanation);
    }

    #[test]
    fn before_the_start_nothing_is_expected() {
        let t = increase();
        assert_eq!(
            state(&t, None, obs(0.0, datetime!(2019-06-01 0:00 UTC))),
            ProgressState::OnTrack
        );
    }

    #[test]
    fn stay_above_and_below() {
        let (during, after) = (datetime!(2026-06-01 0:00 UTC), datetime!(2027-01-01 0:00 UTC));
        let t = target(Direction::StayAbove, Comparator::AtLeast, 50.0, 2026);
        assert_eq!(
            states(&t, &[(60.0, during), (60.0, after), (40.0, during)]),
            [ProgressState::OnTrack, ProgressState::Achieved, ProgressState::OffTrack]
        );
        let t = target(Direction::StayBelow, Comparator::LessThan, 5.0, 2026);
        assert_eq!(
            states(&t, &[(4.0, during), (5.0, during)]),
            [ProgressState::OnTrack, ProgressState::OffTrack]
        );
    }

    #[test]
    fn target_equal_to_baseline() {
        let mut t = target(Direction::IncreaseTo, Comparator::MoreThan, 10.0, 2030);
        t.baseline_value = Some(10.0);
        let p = compute(&t, None, Some(&obs(10.0, datetime!(2026-01-01 0:00 UTC))));
        assert_eq!(p.state, ProgressState::AtRisk);
        assert_eq!(p.percent_complete, None);
    }

    #[test]
    fn dates() {
        assert_eq!(end_of_year(2030), datetime!(2031-01-01 0:00 UTC));
        assert_eq!(
            start_of(Date {
                year: 2024,
                month: 3,
                day: 0
            }),
            datetime!(2024-03-01 0:00 UTC)
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_percent_is_finite_or_unset(
            b in proptest::option::of(-1e6f64..1e6),
            tv in -1e6f64..1e6,
            ev in -1e6f64..1e6,
            lv in -1e6f64..1e6,
            year in 1900i32..2200,
            e_secs in -2_000_000_000i64..7_000_000_000,
            l_secs in -2_000_000_000i64..7_000_000_000,
            dir in 0usize..4,
            cmp in 0usize..5,
        ) {
            let mut t = target(Direction::ALL[dir], Comparator::ALL[cmp], tv, year);
            t.baseline_value = b;
            let e = obs(ev, OffsetDateTime::from_unix_timestamp(e_secs.min(l_secs)).unwrap_or(OffsetDateTime::UNIX_EPOCH));
            let l = obs(lv, OffsetDateTime::from_unix_timestamp(e_secs.max(l_secs)).unwrap_or(OffsetDateTime::UNIX_EPOCH));
            let p = compute(&t, Some(&e), Some(&l));
            proptest::prop_assert!(p.percent_complete.is_none_or(f64::is_finite));
            proptest::prop_assert_ne!(p.state, ProgressState::NoData);
        }
    }

    /// "Increase productivity by more than 30%" from a baseline of 200 by 2029 means a value
    /// above 260, on the same path as an absolute target of 260.
    #[test]
    fn a_relative_increase_is_the_absolute_target_it_means() {
        let mut rel = target(Direction::IncreaseBy, Comparator::MoreThan, 30.0, 2029);
        rel.percent_of_baseline = true;
        rel.baseline_value = Some(200.0);
        rel.baseline_date = increase().baseline_date;
        let mut abs = target(Direction::IncreaseTo, Comparator::MoreThan, 260.0, 2029);
        abs.baseline_value = Some(200.0);
        abs.baseline_date = rel.baseline_date;
        for (value, at) in [
            (230.0, datetime!(2025-01-01 0:00 UTC)),
            (210.0, datetime!(2025-01-01 0:00 UTC)),
            (260.0, datetime!(2029-06-01 0:00 UTC)),
            (261.0, datetime!(2026-01-01 0:00 UTC)),
        ] {
            let l = obs(value, at);
            let r = compute(&rel, None, Some(&l));
            let a = compute(&abs, None, Some(&l));
            assert_eq!(
                (r.state, r.percent_complete),
                (a.state, a.percent_complete),
                "{value} at {at}"
            );
            assert!(r.explanation.contains("means a value > 260"), "{}", r.explanation);
        }
        assert_eq!(
            state(&rel, None, obs(261.0, datetime!(2026-01-01 0:00 UTC))),
            ProgressState::Achieved
        );
    }

    /// A decrease by at least 10 (an amount) mirrors the comparator: a value of at most
    /// baseline − 10.
    #[test]
    fn a_relative_decrease_mirrors_the_comparator() {
        let mut t = target(Direction::DecreaseBy, Comparator::AtLeast, 10.0, 2029);
        t.baseline_value = Some(50.0);
        let (during, after) = (datetime!(2026-01-01 0:00 UTC), datetime!(2030-06-01 0:00 UTC));
        let [at_most, one_short, late] = states(&t, &[(40.0, during), (41.0, during), (45.0, after)])[..] else {
            panic!("three cases, three states")
        };
        assert_eq!(at_most, ProgressState::Achieved);
        assert_ne!(one_short, ProgressState::Achieved);
        assert_eq!(late, ProgressState::OffTrack);
    }

    /// Without a baseline a relative target has no progress, whatever was measured.
    #[test]
    fn a_relative_target_without_baseline_is_baseline_unknown() {
        let mut t = target(Direction::IncreaseBy, Comparator::MoreThan, 30.0, 2030);
        t.percent_of_baseline = true;
        let l = obs(130.0, datetime!(2026-01-01 0:00 UTC));
        let p = compute(&t, Some(&obs(100.0, datetime!(2024-01-01 0:00 UTC))), Some(&l));
        assert_eq!(p.state, ProgressState::BaselineUnknown);
        assert_eq!(p.percent_complete, None);
        assert!(p.explanation.contains("no baseline_value"), "{}", p.explanation);
        assert_eq!(compute(&t, None, None).state, ProgressState::BaselineUnknown);
    }
}
