//! PolicyGoal <-> proto.

use std::collections::{BTreeMap, HashSet};

use registry_proto::v1 as pb;

use super::{enums::enum_field, timestamp};
use crate::domain::{
    Collection, Error, Violations, check,
    enums::{Comparator, Confidence, Direction, MilestoneState, Outcome, Pillar, RiskCategory, RiskSeverity},
    goal::{Date, GoalSpec, InterimTarget, Milestone, PolicyGoal, Risk, Target},
    progress::Progress,
};

impl Date {
    /// Validates a proto date; `None` for an absent message.
    pub fn from_proto(v: &mut Violations, field: &str, d: Option<&pb::Date>) -> Option<Date> {
        let d = d?;
        let before = v.len();
        check::year(v, &format!("{field}.year"), d.year);
        if !(0..=12).contains(&d.month) {
            v.add(format!("{field}.month"), "must be 1..=12, or 0 when unknown");
        }
        if d.day != 0 {
            if d.month == 0 {
                v.add(format!("{field}.day"), "a day requires a month");
            } else if let Ok(month) = time::Month::try_from(d.month.clamp(1, 12) as u8) {
                let max = time::util::days_in_month(month, d.year.clamp(check::MIN_YEAR, check::MAX_YEAR));
                if d.day < 1 || d.day > i32::from(max) {
                    v.add(format!("{field}.day"), format!("must be 1..={max} for that month"));
                }
            }
        }
        (v.len() == before).then_some(Date {
            year: d.year,
            month: d.month as u8,
            day: d.day as u8,
        })
    }

    pub fn to_proto(self) -> pb::Date {
        pb::Date {
            year: self.year,
            month: i32::from(self.month),
            day: i32::from(self.day),
        }
    }
}

impl Risk {
    pub fn from_proto(v: &mut Violations, field: &str, r: &pb::Risk) -> Option<Risk> {
        let before = v.len();
        let category = enum_field(
            v,
            &format!("{field}.category"),
            r.category,
            RiskCategory::from_proto,
            true,
            RiskCategory::expected,
        );
        let severity = enum_field(
            v,
            &format!("{field}.severity"),
            r.severity,
            RiskSeverity::from_proto,
            false,
            RiskSeverity::expected,
        );
        check::text(v, &format!("{field}.title"), &r.title, true, check::MAX_TITLE, false);
        check::text(
            v,
            &format!("{field}.description"),
            &r.description,
            false,
            check::MAX_LONG_TEXT,
            true,
        );
        (v.len() == before).then(|| Risk {
            category: category.unwrap_or(RiskCategory::Other),
            severity,
            title: r.title.clone(),
            description: r.description.clone(),
        })
    }

    pub fn to_proto(&self) -> pb::Risk {
        pb::Risk {
            category: self.category.to_proto(),
            severity: self.severity.map_or(0, RiskSeverity::to_proto),
            title: self.title.clone(),
            description: self.description.clone(),
        }
    }
}

impl GoalSpec {
    /// Validates every writable field of `g`; violation paths are `{prefix}.{field}`.
    pub fn from_proto(prefix: &str, g: &pb::PolicyGoal) -> Result<GoalSpec, Error> {
        let f = |name: &str| format!("{prefix}.{name}");
        let mut v = Violations::new();
        check::text(&mut v, &f("title"), &g.title, true, check::MAX_TITLE, false);
        check::text(&mut v, &f("title_ko"), &g.title_ko, false, check::MAX_TITLE, false);
        let pillar = enum_field(
            &mut v,
            &f("pillar"),
            g.pillar,
            Pillar::from_proto,
            false,
            Pillar::expected,
        );
        let parent = if g.parent.is_empty() {
            None
        } else {
            v.take(Collection::PolicyGoals.parse_name(&f("parent"), &g.parent))
        };
        if parent.is_none() && g.parent.is_empty() && pillar.is_none() && g.pillar == 0 {
            v.add(
                f("pillar"),
                format!("is required for a goal without a parent; one of {}", Pillar::expected()),
            );
        }
        check::text(
            &mut v,
            &f("description"),
            &g.description,
            false,
            check::MAX_LONG_TEXT,
            true,
        );
        check::string_list(&mut v, &f("sectors"), &g.sectors, 50, 100);
        for (i, s) in g.sectors.iter().enumerate() {
            if !s.is_empty() && !check::is_slug(s) {
                v.add(
                    format!("{}[{i}]", f("sectors")),
                    "sectors are lowercase slugs, e.g. semiconductors",
                );
            }
        }
        check::string_list(&mut v, &f("regions"), &g.regions, 50, 100);
        check::text(
            &mut v,
            &f("lead_organization"),
            &g.lead_organization,
            false,
            check::MAX_TITLE,
            false,
        );
        let confidence = enum_field(
            &mut v,
            &f("confidence"),
            g.confidence,
            Confidence::from_proto,
            false,
            Confidence::expected,
        );
        check::text(
            &mut v,
            &f("confidence_note"),
            &g.confidence_note,
            false,
            check::MAX_LONG_TEXT,
            true,
        );

        let mut targets = Vec::new();
        if g.targets.len() > 50 {
            v.add(
                f("targets"),
                format!("must have at most 50 items (got {})", g.targets.len()),
            );
        } else {
            let mut metrics = HashSet::new();
            for (i, t) in g.targets.iter().enumerate() {
                let tf = format!("{}[{i}]", f("targets"));
                if !metrics.insert(t.metric.as_str()) {
                    v.add(format!("{tf}.metric"), format!("duplicate metric {:?}", t.metric));
                }
                if let Some(t) = target_from_proto(&mut v, &tf, t) {
                    targets.push(t);
                }
            }
        }

        let mut milestones = Vec::new();
        if g.milestones.len() > check::MAX_LIST_ITEMS {
            v.add(
                f("milestones"),
                format!("must have at most {} items", check::MAX_LIST_ITEMS),
            );
        } else {
            for (i, m) in g.milestones.iter().enumerate() {
                let mf = format!("{}[{i}]", f("milestones"));
                let before = v.len();
                check::text(&mut v, &format!("{mf}.title"), &m.title, true, check::MAX_TITLE, false);
                check::text(
                    &mut v,
                    &format!("{mf}.description"),
                    &m.description,
                    false,
                    check::MAX_SHORT_TEXT,
                    true,
                );
                let due_date = Date::from_proto(&mut v, &format!("{mf}.due_date"), m.due_date.as_ref());
                let state = enum_field(
                    &mut v,
                    &format!("{mf}.state"),
                    m.state,
                    MilestoneState::from_proto,
                    false,
                    MilestoneState::expected,
                );
                if v.len() == before {
                    milestones.push(Milestone {
                        title: m.title.clone(),
                        description: m.description.clone(),
                        due_date,
                        state: state.unwrap_or(MilestoneState::Planned),
                    });
                }
            }
        }

        let mut linked_partners = Vec::new();
        if g.linked_partners.len() > check::MAX_LIST_ITEMS {
            v.add(
                f("linked_partners"),
                format!("must have at most {} items", check::MAX_LIST_ITEMS),
            );
        } else {
            let mut seen = HashSet::new();
            for (i, p) in g.linked_partners.iter().enumerate() {
                let pf = format!("{}[{i}]", f("linked_partners"));
                if let Some(id) = v.take(Collection::TradePartners.parse_name(&pf, p)) {
                    if seen.insert(id.clone()) {
                        linked_partners.push(id);
                    } else {
                        v.add(pf, format!("duplicate partner {p:?}"));
                    }
                }
            }
        }

        let mut risks = Vec::new();
        if g.risks.len() > 50 {
            v.add(f("risks"), "must have at most 50 items");
        } else {
            for (i, r) in g.risks.iter().enumerate() {
                if let Some(r) = Risk::from_proto(&mut v, &format!("{}[{i}]", f("risks")), r) {
                    risks.push(r);
                }
            }
        }
        check::text(&mut v, &f("source"), &g.source, false, check::MAX_SHORT_TEXT, false);
        let labels: BTreeMap<String, String> = g.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        check::labels(&mut v, &f("labels"), &labels);

        v.finish(|| GoalSpec {
            title: g.title.clone(),
            title_ko: g.title_ko.clone(),
            pillar,
            parent,
            description: g.description.clone(),
            sectors: g.sectors.clone(),
            regions: g.regions.clone(),
            lead_organization: g.lead_organization.clone(),
            confidence,
            confidence_note: g.confidence_note.clone(),
            targets,
            milestones,
            linked_partners,
            risks,
            source: g.source.clone(),
            labels,
        })
    }
}

fn target_from_proto(v: &mut Violations, tf: &str, t: &pb::Target) -> Option<Target> {
    let before = v.len();
    if !check::is_slug(&t.metric) {
        v.add(
            format!("{tf}.metric"),
            "is required: a lowercase slug such as ai-factories ([a-z][a-z0-9-]{0,62})",
        );
    }
    check::text(
        v,
        &format!("{tf}.description"),
        &t.description,
        false,
        check::MAX_SHORT_TEXT,
        true,
    );
    check::text(v, &format!("{tf}.unit"), &t.unit, true, 50, false);
    if let Some(b) = t.baseline_value {
        check::finite(v, &format!("{tf}.baseline_value"), b);
    }
    let baseline_date = Date::from_proto(v, &format!("{tf}.baseline_date"), t.baseline_date.as_ref());
    check::finite(v, &format!("{tf}.target_value"), t.target_value);
    let direction = enum_field(
        v,
        &format!("{tf}.direction"),
        t.direction,
        Direction::from_proto,
        true,
        Direction::expected,
    );
    let comparator = enum_field(
        v,
        &format!("{tf}.comparator"),
        t.comparator,
        Comparator::from_proto,
        false,
        Comparator::expected,
    );
    check::year(v, &format!("{tf}.target_year"), t.target_year);
    if let Some(bd) = baseline_date
        && bd.year > t.target_year
    {
        v.add(format!("{tf}.baseline_date"), "must not be after target_year");
    }
    let mut interim = Vec::new();
    let mut last_year = i32::MIN;
    for (j, it) in t.interim_targets.iter().enumerate() {
        let itf = format!("{tf}.interim_targets[{j}]");
        check::year(v, &format!("{itf}.year"), it.year);
        check::finite(v, &format!("{itf}.value"), it.value);
        if it.year <= last_year {
            v.add(
                format!("{itf}.year"),
                "interim target years must be strictly increasing",
            );
        }
        if it.year > t.target_year {
            v.add(format!("{itf}.year"), "must not be after target_year");
        }
        last_year = it.year;
        interim.push(InterimTarget {
            year: it.year,
            value: it.value,
        });
    }
    if t.interim_targets.len() > 50 {
        v.add(format!("{tf}.interim_targets"), "must have at most 50 items");
    }
    let direction = direction?;
    let comparator = comparator.unwrap_or(match direction {
        Direction::IncreaseTo | Direction::StayAbove => Comparator::AtLeast,
        Direction::DecreaseTo | Direction::StayBelow => Comparator::AtMost,
    });
    (v.len() == before).then(|| Target {
        metric: t.metric.clone(),
        description: t.description.clone(),
        unit: t.unit.clone(),
        baseline_value: t.baseline_value,
        baseline_date,
        target_value: t.target_value,
        direction,
        comparator,
        target_year: t.target_year,
        interim_targets: interim,
    })
}

impl Target {
    pub fn to_proto(&self) -> pb::Target {
        pb::Target {
            metric: self.metric.clone(),
            description: self.description.clone(),
            unit: self.unit.clone(),
            baseline_value: self.baseline_value,
            baseline_date: self.baseline_date.map(Date::to_proto),
            target_value: self.target_value,
            direction: self.direction.to_proto(),
            comparator: self.comparator.to_proto(),
            target_year: self.target_year,
            interim_targets: self
                .interim_targets
                .iter()
                .map(|i| pb::InterimTarget {
                    year: i.year,
                    value: i.value,
                })
                .collect(),
            progress: None,
        }
    }
}

impl Milestone {
    pub fn to_proto(&self) -> pb::Milestone {
        pb::Milestone {
            title: self.title.clone(),
            description: self.description.clone(),
            due_date: self.due_date.map(Date::to_proto),
            state: self.state.to_proto(),
        }
    }
}

impl PolicyGoal {
    pub fn to_proto(&self) -> pb::PolicyGoal {
        let s = &self.spec;
        pb::PolicyGoal {
            name: self.name(),
            title: s.title.clone(),
            title_ko: s.title_ko.clone(),
            pillar: s.pillar.map_or(0, Pillar::to_proto),
            parent: s
                .parent
                .as_ref()
                .map(|p| Collection::PolicyGoals.name(p))
                .unwrap_or_default(),
            description: s.description.clone(),
            sectors: s.sectors.clone(),
            regions: s.regions.clone(),
            lead_organization: s.lead_organization.clone(),
            state: self.state.to_proto(),
            outcome: self.outcome.map_or(0, Outcome::to_proto),
            confidence: s.confidence.map_or(0, Confidence::to_proto),
            confidence_note: s.confidence_note.clone(),
            targets: s
                .targets
                .iter()
                .enumerate()
                .map(|(i, t)| pb::Target {
                    progress: self.progress.get(i).map(Progress::to_proto),
                    ..t.to_proto()
                })
                .collect(),
            milestones: s.milestones.iter().map(Milestone::to_proto).collect(),
            linked_partners: s
                .linked_partners
                .iter()
                .map(|p| Collection::TradePartners.name(p))
                .collect(),
            risks: s.risks.iter().map(Risk::to_proto).collect(),
            source: s.source.clone(),
            labels: s.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            ancestors: self.ancestors.iter().map(|a| Collection::PolicyGoals.name(a)).collect(),
            create_time: Some(timestamp(self.create_time)),
            update_time: Some(timestamp(self.update_time)),
            delete_time: self.delete_time.map(timestamp),
            expire_time: self.expire_time.map(timestamp),
            etag: self.etag(),
            revision: self.revision,
        }
    }
}

/// Whether a writable field of a request goal holds a non-default value.
pub fn populated(g: &pb::PolicyGoal, field: &str) -> bool {
    match field {
        "title" => !g.title.is_empty(),
        "title_ko" => !g.title_ko.is_empty(),
        "pillar" => g.pillar != 0,
        "parent" => !g.parent.is_empty(),
        "description" => !g.description.is_empty(),
        "sectors" => !g.sectors.is_empty(),
        "regions" => !g.regions.is_empty(),
        "lead_organization" => !g.lead_organization.is_empty(),
        "confidence" => g.confidence != 0,
        "confidence_note" => !g.confidence_note.is_empty(),
        "targets" => !g.targets.is_empty(),
        "milestones" => !g.milestones.is_empty(),
        "linked_partners" => !g.linked_partners.is_empty(),
        "risks" => !g.risks.is_empty(),
        "source" => !g.source.is_empty(),
        "labels" => !g.labels.is_empty(),
        _ => false,
    }
}

/// Applies the masked fields of `req` onto `current` and validates the result as a whole.
/// Violations name the request's fields (`policy_goal.…`).
pub fn merge(
    current: &PolicyGoal,
    req: &pb::PolicyGoal,
    paths: &[crate::domain::mask::MaskPath],
) -> Result<GoalSpec, Error> {
    use crate::domain::mask::MaskPath;
    let mut g = current.to_proto();
    for p in paths {
        match p {
            MaskPath::Field(f) => match *f {
                "title" => g.title.clone_from(&req.title),
                "title_ko" => g.title_ko.clone_from(&req.title_ko),
                "pillar" => g.pillar = req.pillar,
                "parent" => g.parent.clone_from(&req.parent),
                "description" => g.description.clone_from(&req.description),
                "sectors" => g.sectors.clone_from(&req.sectors),
                "regions" => g.regions.clone_from(&req.regions),
                "lead_organization" => g.lead_organization.clone_from(&req.lead_organization),
                "confidence" => g.confidence = req.confidence,
                "confidence_note" => g.confidence_note.clone_from(&req.confidence_note),
                "targets" => g.targets.clone_from(&req.targets),
                "milestones" => g.milestones.clone_from(&req.milestones),
                "linked_partners" => g.linked_partners.clone_from(&req.linked_partners),
                "risks" => g.risks.clone_from(&req.risks),
                "source" => g.source.clone_from(&req.source),
                "labels" => g.labels.clone_from(&req.labels),
                _ => {}
            },
            MaskPath::Label(key) => crate::domain::mask::apply_label(&mut g.labels, &req.labels, key),
        }
    }
    // A child keeps inheriting its pillar when the pillar is cleared together with a parent.
    GoalSpec::from_proto("policy_goal", &g)
}

impl Progress {
    pub fn to_proto(&self) -> pb::TargetProgress {
        pb::TargetProgress {
            state: self.state.to_proto(),
            latest_value: self.latest.map(|o| o.value),
            latest_observe_time: self.latest.map(|o| timestamp(o.time)),
            percent_complete: self.percent_complete,
            explanation: self.explanation.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> pb::PolicyGoal {
        pb::PolicyGoal {
            title: "Manufacturing AX".into(),
            pillar: pb::Pillar::IndustrialResurgence as i32,
            targets: vec![pb::Target {
                metric: "ai-factories".into(),
                unit: "factories".into(),
                target_value: 500.0,
                direction: pb::target::Direction::IncreaseTo as i32,
                comparator: pb::target::Comparator::MoreThan as i32,
                target_year: 2030,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn accepts_a_valid_goal() {
        let spec = GoalSpec::from_proto("policy_goal", &valid()).expect("valid");
        assert_eq!(spec.pillar, Some(Pillar::IndustrialResurgence));
        assert_eq!(spec.targets[0].comparator, Comparator::MoreThan);
    }

    #[test]
    fn reports_every_violation() {
        let mut g = valid();
        g.title = "bad\0title".into();
        g.pillar = 42;
        g.targets[0].target_value = f64::NAN;
        g.targets[0].target_year = 99999;
        g.targets[0].direction = 0;
        g.linked_partners = vec!["tradePartners/../x".into()];
        g.labels.insert("Bad Key".into(), "v".into());
        g.milestones.push(pb::Milestone {
            title: "m".into(),
            due_date: Some(pb::Date {
                year: 2026,
                month: 2,
                day: 30,
            }),
            ..Default::default()
        });
        let Err(Error::InvalidArgument(v)) = GoalSpec::from_proto("policy_goal", &g) else {
            panic!("expected invalid argument");
        };
        let fields: Vec<_> = v.iter().map(|f| f.field.as_str()).collect();
        for expected in [
            "policy_goal.title",
            "policy_goal.pillar",
            "policy_goal.targets[0].target_value",
            "policy_goal.targets[0].target_year",
            "policy_goal.targets[0].direction",
            "policy_goal.linked_partners[0]",
            "policy_goal.labels[Bad Key]",
            "policy_goal.milestones[0].due_date.day",
        ] {
            assert!(fields.contains(&expected), "{expected} missing from {fields:?}");
        }
    }

    #[test]
    fn root_goal_needs_a_pillar() {
        let mut g = valid();
        g.pillar = 0;
        assert!(GoalSpec::from_proto("g", &g).is_err());
        g.parent = "policyGoals/industrial-resurgence".into();
        assert!(GoalSpec::from_proto("g", &g).is_ok());
    }
}
