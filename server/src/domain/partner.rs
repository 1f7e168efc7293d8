//! The trade-partner model: `PartnerSpec` (what a client may write), `TradePartner` (what the
//! registry stores) and `TradeFlow` (exports/imports of one partner in one year).
//! `PartnerSpec::from_proto` checks every field of the proto message.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{
    Collection, Error, Id, Violations, check,
    enums::{EngagementKind, EngagementState, PartnerKind, Priority},
    goal::{Date, Risk},
    list::{Col, FieldDef, FieldKind, SortValue, Write, common},
};

const PARTNERS: Collection = Collection::TradePartners;

/// At most this many members in a bloc, forum or group.
pub const MAX_MEMBERS: usize = 300;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Engagement {
    pub title: String,
    pub kind: EngagementKind,
    pub state: EngagementState,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub next_step: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub linked_goals: Vec<Id>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<Date>,
    /// The agreement this engagement follows up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreement: Option<Id>,
}

/// The client-writable part of a partner, fully validated.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PartnerSpec {
    pub kind: PartnerKind,
    pub display_name: String,
    pub display_name_ko: String,
    #[serde(default)]
    pub description_ko: String,
    pub region: String,
    pub members: Vec<Id>,
    pub priority: Option<Priority>,
    pub engagements: Vec<Engagement>,
    pub risks: Vec<Risk>,
    pub source: String,
    pub labels: BTreeMap<String, String>,
}

patch_fields!(
    /// One field set by a write: the typed form of an update-mask path with its new value.
    PartnerField, PartnerPatch for PartnerSpec {
        Kind(PartnerKind) => kind,
        DisplayName(String) => display_name,
        DisplayNameKo(String) => display_name_ko,
        DescriptionKo(String) => description_ko,
        Region(String) => region,
        Members(Vec<Id>) => members,
        Priority(Option<Priority>) => priority,
        Engagements(Vec<Engagement>) => engagements,
        Risks(Vec<Risk>) => risks,
        Source(String) => source,
        Labels(BTreeMap<String, String>) => labels,
});

/// What each rule of [`PartnerSpec::apply`] reads: the field its violation names, and its
/// inputs.
pub const RULE_INPUTS: &[(&str, &[&str])] = &[("members", &["kind", "members"]), ("labels", &["labels"])];

/// A partner is a country unless it says otherwise.
impl Default for PartnerKind {
    fn default() -> Self {
        PartnerKind::Country
    }
}

impl PartnerSpec {
    /// A country partner without a Korean display name (new, or an update that clears it) gets
    /// CLDR's (`us` → 미국).
    pub fn named_in_korean(mut self, id: &Id) -> PartnerSpec {
        if self.kind == PartnerKind::Country
            && self.display_name_ko.is_empty()
            && let Some(name) = super::cldr::korean_country_name(id.as_str())
        {
            self.display_name_ko = name;
        }
        self
    }

    /// The rules across fields ([`RULE_INPUTS`]).
    fn rules(&self, v: &mut Violations) {
        if self.kind == PartnerKind::Country && !self.members.is_empty() {
            v.add(
                "members",
                "a COUNTRY has no members; members belong to blocs, forums and groups",
            );
        }
    }
}

impl super::Stored for TradePartner {
    type Spec = PartnerSpec;
    fn spec(&self) -> &PartnerSpec {
        &self.spec
    }
    fn stamps(&self) -> &super::Stamps {
        &self.stamps
    }

    /// The spec this partner has after `patch`; its kind cannot change.
    fn patched(&self, patch: PartnerPatch) -> Result<PartnerSpec, Error> {
        let mut spec = self.spec.clone();
        spec.apply(patch)?;
        let spec = spec.named_in_korean(&self.id);
        if spec.kind != self.spec.kind {
            return Err(Error::invalid(
                "kind",
                format!(
                    "is immutable: {} is a {}; delete it and create a new partner instead",
                    self.name(),
                    self.spec.kind
                ),
            ));
        }
        Ok(spec)
    }
}

/// A stored partner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TradePartner {
    pub id: Id,
    #[serde(flatten)]
    pub spec: PartnerSpec,
    /// Live blocs, forums and groups listing this partner as a member.
    #[serde(default)]
    pub memberships: Vec<Id>,
    /// Live goals linking this partner.
    #[serde(default)]
    pub linked_goals: Vec<Id>,
    /// Live agreements the partner is party to (every one for Korea, `kr`).
    #[serde(default)]
    pub trade_agreements: Vec<Id>,
    /// Live risks of the register that link this partner.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub risk_register: Vec<Id>,
    /// Output only: the dependent products behind the partner's risks (attached by Get
    /// only, see `store::dependents`; not part of snapshots).
    #[serde(skip)]
    pub dependent_products: Vec<super::dependency::DependentProduct>,
    #[serde(flatten)]
    pub stamps: super::Stamps,
}

impl TradePartner {
    pub fn name(&self) -> String {
        PARTNERS.name(&self.id)
    }

    pub fn etag(&self) -> String {
        self.stamps.etag(&self.id)
    }

    /// The value of an orderable field, for a page-token cursor.
    pub fn sort_value(&self, field: &str) -> SortValue {
        match field {
            "display_name" => SortValue::Text(self.spec.display_name.clone()),
            "kind" => SortValue::Text(self.spec.kind.as_str().to_owned()),
            "region" => SortValue::Text(self.spec.region.clone()),
            "priority" => SortValue::Text(priority_sort_key(self.spec.priority).to_owned()),
            _ => self.stamps.sort_value(&self.id, field),
        }
    }
}

/// Priorities sort by weight (LOW < … < STRATEGIC), unset first: the stored sort key.
pub fn priority_sort_key(p: Option<Priority>) -> &'static str {
    match p {
        None => "0",
        Some(Priority::Low) => "1",
        Some(Priority::Medium) => "2",
        Some(Priority::High) => "3",
        Some(Priority::Strategic) => "4",
    }
}

/// Checks a partner id against its kind: a COUNTRY is an ISO 3166-1 alpha-2 code in lower
/// case (`us`, `kr`); other kinds use any slug.
pub fn check_id(v: &mut Violations, field: &str, id: &Id, kind: PartnerKind) {
    if kind == PartnerKind::Country {
        let code = id.as_str().to_ascii_uppercase();
        if code.len() != 2 || rust_iso3166::from_alpha2(&code).is_none() {
            v.add(
                field,
                format!(
                    "{:?} is not an ISO 3166-1 alpha-2 country code; a COUNTRY's id is its code in lower case (e.g. us, cn, jp)",
                    id.as_str()
                ),
            );
        }
    }
}

/// Parses a list of resource names of `c` (unique, at most `max`) into ids.
pub fn names(v: &mut Violations, field: &str, raw: &[String], c: Collection, max: usize) -> Vec<Id> {
    let mut out = Vec::new();
    if raw.len() > max {
        v.add(field, format!("must have at most {max} items (got {})", raw.len()));
        return out;
    }
    let mut seen = HashSet::new();
    for (i, n) in raw.iter().enumerate() {
        let f = format!("{field}[{i}]");
        if let Some(id) = v.take(c.parse_name(&f, n)) {
            if seen.insert(id.clone()) {
                out.push(id);
            } else {
                v.add(f, format!("duplicate {n:?}"));
            }
        }
    }
    out
}

/// The fields of a partner: how each is written (update masks) and which can be filtered on
/// and ordered by. `kind` is immutable: a mask may name it only with the current kind.
pub const FIELDS: &[FieldDef] = resource_fields!(
    [
        FieldDef::enumeration("kind", PartnerKind::FIELD_KIND)
            .orderable()
            .written(Write::Immutable),
        FieldDef::filter(
            "priority",
            Priority::FIELD_KIND,
            Col::RankedEnum {
                col: "priority",
                rank: "(CASE priority WHEN 'LOW' THEN '1' WHEN 'MEDIUM' THEN '2' WHEN 'HIGH' THEN '3' WHEN 'STRATEGIC' THEN '4' ELSE '0' END)",
            },
        )
        .orderable(),
        FieldDef::text("region").orderable(),
        FieldDef::text("display_name").orderable(),
        FieldDef::filter(
            "engagements.state",
            EngagementState::FIELD_KIND,
            Col::JsonArrayKey {
                col: "engagements",
                key: "state",
            },
        )
        .written(Write::None),
        FieldDef::filter(
            "risks.category",
            super::enums::RiskCategory::FIELD_KIND,
            Col::JsonArrayKey {
                col: "risks",
                key: "category",
            },
        )
        .written(Write::None),
        FieldDef::filter("members", FieldKind::Names(Collection::TradePartners), Col::Members),
        FieldDef::filter("member_of", FieldKind::Reference(Collection::TradePartners), Col::MemberOf)
            .written(Write::None),
    ],
    search ["display_name", "display_name_ko", "description_ko", "source"],
    [
        FieldDef::plain("display_name_ko"),
        FieldDef::plain("description_ko"),
        FieldDef::output("agreements"),
        FieldDef::output("trade_agreements"),
        FieldDef::plain("engagements"),
        common::risks("partners", "trade_partners.id"),
        FieldDef::plain("source"),
        FieldDef::output("memberships"),
        FieldDef::output("linked_goals"),
        FieldDef::output("risk_register"),
        FieldDef::output("dependent_products"),
    ],
);

/// Trade with one partner in one year.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TradeFlow {
    pub partner: Id,
    pub year: i32,
    pub exports_usd: i64,
    pub imports_usd: i64,
    pub source: String,
    pub estimated: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub create_time: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub update_time: OffsetDateTime,
    pub revision: i64,
}

/// The writable figures of a flow, validated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowSpec {
    pub exports_usd: i64,
    pub imports_usd: i64,
    pub source: String,
    pub estimated: bool,
}

/// `tradePartners/{partner}/tradeFlows/{year}`.
pub fn flow_name(partner: &Id, year: i32) -> String {
    format!("{}/tradeFlows/{year}", PARTNERS.name(partner))
}

/// Parses `tradePartners/{partner}/tradeFlows/{year}`.
pub fn parse_flow_name(field: &str, name: &str) -> Result<(Id, i32), Error> {
    let form = "tradePartners/{partner}/tradeFlows/{year}";
    let bad = || super::names::not_of_form(field, name, form, 80);
    let (id, year) = PARTNERS.parse_child_name(field, name, "tradeFlows", form, 80)?;
    if year.len() != 4 || !year.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let year: i32 = year.parse().map_err(|_| bad())?;
    let mut v = Violations::new();
    check::year(&mut v, field, year);
    v.finish(|| (id, year))
}

impl TradeFlow {
    pub fn name(&self) -> String {
        flow_name(&self.partner, self.year)
    }

    pub fn etag(&self) -> String {
        super::etag(&self.name(), self.revision, self.create_time)
    }

    pub fn spec(&self) -> FlowSpec {
        FlowSpec {
            exports_usd: self.exports_usd,
            imports_usd: self.imports_usd,
            source: self.source.clone(),
            estimated: self.estimated,
        }
    }
}

/// One partner's exports in a year, as the concentration analysis sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct PartnerExports {
    pub partner: Id,
    pub display_name: String,
    pub exports_usd: i64,
}

/// Export concentration of one year (see `ExportConcentration` in the proto for the rules).
#[derive(Debug, Clone, PartialEq)]
pub struct Concentration {
    pub total_exports_usd: i64,
    /// Sum of squared percentage shares, 0..=10000.
    pub hhi: f64,
    /// Countries by share, largest first (ties by id), with their share.
    pub shares: Vec<(PartnerExports, f64)>,
    pub top_n_share: f64,
}

/// Computes shares, the HHI and the top-N share of `countries` (one entry per country).
pub fn concentration(mut countries: Vec<PartnerExports>, top_n: usize) -> Concentration {
    countries.sort_by(|a, b| {
        b.exports_usd
            .cmp(&a.exports_usd)
            .then_with(|| a.partner.cmp(&b.partner))
    });
    // i128: a sum of up to 250 i64 values cannot overflow.
    let total: i128 = countries.iter().map(|c| i128::from(c.exports_usd)).sum();
    let share = |x: i64| if total == 0 { 0.0 } else { x as f64 / total as f64 };
    let hhi = countries
        .iter()
        .map(|c| {
            let pct = share(c.exports_usd) * 100.0;
            pct * pct
        })
        .sum();
    let top_n_share = countries.iter().take(top_n).map(|c| share(c.exports_usd)).sum();
    Concentration {
        total_exports_usd: i64::try_from(total).unwrap_or(i64::MAX),
        hhi,
        shares: countries
            .into_iter()
            .map(|c| {
                let s = share(c.exports_usd);
                (c, s)
            })
            .collect(),
        top_n_share,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exports(id: &str, usd: i64) -> PartnerExports {
        PartnerExports {
            partner: Id::parse("t", id).expect("id"),
            display_name: id.to_uppercase(),
            exports_usd: usd,
        }
    }

    #[test]
    fn hhi_by_hand() {
        // Shares 50%, 30%, 20%: HHI = 2500 + 900 + 400 = 3800; top-2 = 0.8.
        let c = concentration(vec![exports("jp", 20), exports("us", 50), exports("cn", 30)], 2);
        assert_eq!(c.total_exports_usd, 100);
        assert!((c.hhi - 3800.0).abs() < 1e-9, "{}", c.hhi);
        assert!((c.top_n_share - 0.8).abs() < 1e-12);
        let order: Vec<&str> = c.shares.iter().map(|(p, _)| p.partner.as_str()).collect();
        assert_eq!(order, ["us", "cn", "jp"]);
        let single = concentration(vec![exports("us", 7)], 5);
        assert!((single.hhi - 10000.0).abs() < 1e-9);
        let none = concentration(vec![], 5);
        assert_eq!((none.total_exports_usd, none.hhi, none.top_n_share), (0, 0.0, 0.0));
    }

    #[test]
    fn country_ids_are_iso_codes() {
        let mut v = Violations::new();
        for ok in ["us", "cn", "jp", "kr", "vn"] {
            check_id(&mut v, "id", &Id::parse("t", ok).expect("id"), PartnerKind::Country);
        }
        assert!(v.is_empty());
        for bad in ["xx", "usa", "asean", "zz"] {
            let mut v = Violations::new();
            check_id(&mut v, "id", &Id::parse("t", bad).expect("id"), PartnerKind::Country);
            assert!(!v.is_empty(), "{bad}");
        }
        let mut v = Violations::new();
        check_id(
            &mut v,
            "id",
            &Id::parse("t", "asean").expect("id"),
            PartnerKind::EconomicBloc,
        );
        assert!(v.is_empty());
    }

    #[test]
    fn flow_names() {
        let (id, year) = parse_flow_name("n", "tradePartners/us/tradeFlows/2024").expect("valid");
        assert_eq!((id.as_str(), year), ("us", 2024));
        assert_eq!(flow_name(&id, year), "tradePartners/us/tradeFlows/2024");
        for bad in [
            "tradePartners/us/tradeFlows/24",
            "tradePartners/us/tradeFlows/+2024",
            "tradePartners/us/tradeFlows/1800",
            "tradePartners/US/tradeFlows/2024",
            "tradePartners/us/tradeFlows/2024/x",
            "policyGoals/us/tradeFlows/2024",
        ] {
            assert!(parse_flow_name("n", bad).is_err(), "{bad}");
        }
    }
}
