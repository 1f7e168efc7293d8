//! PolicyGoal <-> proto.

use std::collections::HashSet;

use registry_proto::v1 as pb;

use super::{LONG_TEXT, OPTIONAL_TITLE, SHORT_TEXT, Stamped, TITLE, enums::enum_field, labels, text, timestamp};
use crate::domain::{
    Collection, Error, Id, Violations, check,
    enums::{Comparator, Confidence, Direction, MilestoneState, Outcome, Pillar, RiskCategory, RiskSeverity},
    goal::{
        Date, FIELDS, GoalField, GoalPatch, GoalSpec, InterimTarget, Milestone, PolicyGoal, RULE_INPUTS, Risk, Target,
    },
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
        let category = enum_field::<RiskCategory>(v, &format!("{field}.category"), r.category, true);
        let severity = enum_field::<RiskSeverity>(v, &format!("{field}.severity"), r.severity, false);
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

patchable!(pb::PolicyGoal => GoalField, GoalPatch, GoalSpec, FIELDS, RULE_INPUTS);

/// One writable field of `g`, validated (`f` is its path in the request).
fn field(v: &mut Violations, f: &str, g: &pb::PolicyGoal, name: &str) -> Option<GoalField> {
    Some(match name {
        "title" => GoalField::Title(text(v, f, &g.title, TITLE)),
        "title_ko" => GoalField::TitleKo(text(v, f, &g.title_ko, OPTIONAL_TITLE)),
        "pillar" => GoalField::Pillar(enum_field::<Pillar>(v, f, g.pillar, false)),
        "parent" if g.parent.is_empty() => GoalField::Parent(None),
        "parent" => GoalField::Parent(Some(v.take(Collection::PolicyGoals.parse_name(f, &g.parent))?)),
        "description" => GoalField::Description(text(v, f, &g.description, LONG_TEXT)),
        "description_ko" => GoalField::DescriptionKo(text(v, f, &g.description_ko, LONG_TEXT)),
        "sectors" => {
            check::string_list(v, f, &g.sectors, 50, 100);
            for (i, s) in g.sectors.iter().enumerate() {
                if !s.is_empty() && !check::is_slug(s) {
                    v.add(format!("{f}[{i}]"), "sectors are lowercase slugs, e.g. semiconductors");
                }
            }
            GoalField::Sectors(g.sectors.clone())
        }
        "regions" => {
            check::string_list(v, f, &g.regions, 50, 100);
            GoalField::Regions(g.regions.clone())
        }
        "lead_organization" => GoalField::LeadOrganization(text(v, f, &g.lead_organization, OPTIONAL_TITLE)),
        "confidence" => GoalField::Confidence(enum_field::<Confidence>(v, f, g.confidence, false)),
        "confidence_note" => GoalField::ConfidenceNote(text(v, f, &g.confidence_note, LONG_TEXT)),
        "targets" => GoalField::Targets(targets(v, f, &g.targets)),
        "milestones" => GoalField::Milestones(milestones(v, f, &g.milestones)),
        "linked_partners" => GoalField::LinkedPartners(crate::domain::partner::names(
            v,
            f,
            &g.linked_partners,
            Collection::TradePartners,
            check::MAX_LIST_ITEMS,
        )),
        "contributing_organizations" => {
            check::string_list(v, f, &g.contributing_organizations, 50, check::MAX_TITLE);
            GoalField::ContributingOrganizations(g.contributing_organizations.clone())
        }
        "contributes_to" => GoalField::ContributesTo(crate::domain::partner::names(
            v,
            f,
            &g.contributes_to,
            Collection::PolicyGoals,
            check::MAX_LIST_ITEMS,
        )),
        "product_sets" => GoalField::ProductSets(crate::domain::partner::names(
            v,
            f,
            &g.product_sets,
            Collection::ProductSets,
            check::MAX_LIST_ITEMS,
        )),
        "risks" => GoalField::Risks(items(v, f, &g.risks, 50, Risk::from_proto)),
        "source" => GoalField::Source(text(v, f, &g.source, SHORT_TEXT)),
        "labels" => GoalField::Labels(labels(v, f, &g.labels)),
        _ => return None,
    })
}

/// Validates a list of sub-records, each with `parse`, at most `max` of them.
pub(super) fn items<P, T>(
    v: &mut Violations,
    field: &str,
    raw: &[P],
    max: usize,
    parse: impl Fn(&mut Violations, &str, &P) -> Option<T>,
) -> Vec<T> {
    if raw.len() > max {
        v.add(field, format!("must have at most {max} items (got {})", raw.len()));
        return Vec::new();
    }
    raw.iter()
        .enumerate()
        .filter_map(|(i, p)| parse(v, &format!("{field}[{i}]"), p))
        .collect()
}

fn targets(v: &mut Violations, f: &str, raw: &[pb::Target]) -> Vec<Target> {
    let mut metrics = HashSet::new();
    for (i, t) in raw.iter().enumerate().take(50) {
        if !metrics.insert(t.metric.as_str()) {
            v.add(format!("{f}[{i}].metric"), format!("duplicate metric {:?}", t.metric));
        }
    }
    items(v, f, raw, 50, target_from_proto)
}

fn milestones(v: &mut Violations, f: &str, raw: &[pb::Milestone]) -> Vec<Milestone> {
    items(v, f, raw, check::MAX_LIST_ITEMS, |v, mf, m| {
        let before = v.len();
        check::text(v, &format!("{mf}.title"), &m.title, true, check::MAX_TITLE, false);
        check::text(
            v,
            &format!("{mf}.description"),
            &m.description,
            false,
            check::MAX_SHORT_TEXT,
            true,
        );
        let due_date = Date::from_proto(v, &format!("{mf}.due_date"), m.due_date.as_ref());
        let state = enum_field::<MilestoneState>(v, &format!("{mf}.state"), m.state, false);
        (v.len() == before).then(|| Milestone {
            title: m.title.clone(),
            description: m.description.clone(),
            due_date,
            state: state.unwrap_or(MilestoneState::Unspecified),
        })
    })
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
    let direction = enum_field::<Direction>(v, &format!("{tf}.direction"), t.direction, true);
    let comparator = enum_field::<Comparator>(v, &format!("{tf}.comparator"), t.comparator, false);
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
    if direction.is_relative() {
        if t.target_value <= 0.0 {
            v.add(
                format!("{tf}.target_value"),
                "must be positive for INCREASE_BY/DECREASE_BY: it is the size of the change",
            );
        }
        if t.percent_of_baseline && t.baseline_value == Some(0.0) {
            v.add(
                format!("{tf}.baseline_value"),
                "must not be 0 when the change is a percentage of it",
            );
        }
    } else if t.percent_of_baseline {
        v.add(
            format!("{tf}.percent_of_baseline"),
            "is only set with INCREASE_BY or DECREASE_BY",
        );
    }
    let comparator = comparator.unwrap_or(match direction {
        Direction::IncreaseTo | Direction::StayAbove | Direction::IncreaseBy | Direction::DecreaseBy => {
            Comparator::AtLeast
        }
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
        percent_of_baseline: t.percent_of_baseline,
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
            percent_of_baseline: self.percent_of_baseline,
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
            description_ko: s.description_ko.clone(),
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
            contributing_organizations: s.contributing_organizations.clone(),
            contributes_to: s
                .contributes_to
                .iter()
                .map(|g| Collection::PolicyGoals.name(g))
                .collect(),
            linked_partners: s
                .linked_partners
                .iter()
                .map(|p| Collection::TradePartners.name(p))
                .collect(),
            risks: s.risks.iter().map(Risk::to_proto).collect(),
            source: s.source.clone(),
            labels: s.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            ancestors: Collection::PolicyGoals.names(&self.ancestors),
            risk_register: Collection::Risks.names(&self.risk_register),
            product_sets: Collection::ProductSets.names(&s.product_sets),
            dependent_products: self.dependent_products.iter().map(|d| d.to_proto()).collect(),
            latest_check_in: self.latest_check_in.as_ref().map(|c| Box::new(c.to_proto())),
            ..Default::default()
        }
        .stamped(crate::store::Resource::etag(self), &self.stamps)
    }
}

/// The spec of a goal created by an update with `allow_missing` (the whole message).
pub fn create_spec(field: &str, g: &pb::PolicyGoal, _id: &Id, _id_field: &str) -> Result<GoalSpec, Error> {
    GoalSpec::from_proto(field, g)
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
