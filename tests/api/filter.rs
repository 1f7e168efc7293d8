//! The SQL compiled from a filter selects exactly what the in-memory evaluator
//! (`domain::filter::matches`) selects: random goals, random filter ASTs rendered to text and
//! parsed back, `list_goals` walked page by page.

use std::collections::{BTreeSet, HashMap};

use proptest::{
    prelude::*,
    strategy::ValueTree,
    test_runner::{Config, RngAlgorithm, TestRng, TestRunner},
};
use registry_e2e::TestDb;
use registry_proto::v1 as pb;
use registry_server::{
    domain::{
        Actor, Collection, Id,
        enums::{GoalState, Outcome, Pillar, ProgressState},
        filter::{self, Expr, Op, Value},
        goal::{FIELDS, GoalSpec, PolicyGoal},
        list,
        measurement::MeasurementSpec,
    },
    store::{ListQuery, Store, StoreOptions, WriteCtx},
};
use time::OffsetDateTime;

const GOALS: usize = 60;
const CASES: usize = 128;

const TITLE_WORDS: &[&str] = &[
    "Semiconductor",
    "AI",
    "ai",
    "Battery",
    "50%",
    "under_score",
    r"back\slash",
    "it's",
    "반도체",
    "Hydrogen",
    "fab",
    "Zeta",
    "'; DROP TABLE policy_goals; --",
];
const TITLES_KO: &[&str] = &["", "반도체 초격차", "수소 경제", "AI 팩토리"];
const DESCRIPTIONS: &[&str] = &[
    "",
    "Semiconductor fabs",
    "grow exports 50%",
    "x_y",
    r"path\to",
    "HYDROGEN hubs",
];
const SECTORS: &[&str] = &["semiconductors", "batteries", "hydrogen", "ai", "shipbuilding"];
const REGIONS: &[&str] = &["seoul", "busan", "gyeonggi"];
const ORGS: &[&str] = &["", "MOTIE", "KOTRA", "org_1", "50%", "motie"];
const LABEL_KEYS: &[&str] = &["env", "tier", "team"];
const LABEL_VALUES: &[&str] = &["prod", "dev", "1", "a_b"];
const PARTNERS: &[&str] = &["us", "cn", "jp", "vn"];
const SEARCH_WORDS: &[&str] = &[
    "semiconductor",
    "SEMICONDUCTOR",
    "ai",
    "반도체",
    "수소",
    "50%",
    "%",
    "_",
    "x_y",
    r"\",
    "'",
    "hydrogen",
    "fabs",
    "zzz",
    "",
    "DROP TABLE",
];

fn ctx() -> WriteCtx {
    WriteCtx {
        actor: Actor { id: "prop".into() },
        request_id: None,
        validate_only: false,
    }
}

fn id(s: &str) -> Id {
    Id::parse("id", s).unwrap()
}

fn subset(pool: &'static [&'static str]) -> impl Strategy<Value = Vec<String>> {
    prop::sample::subsequence(pool.to_vec(), 0..=pool.len().min(3))
        .prop_map(|v| v.into_iter().map(str::to_owned).collect())
}

/// A measurement of the first target: value, year and month of the observation (in the past).
type Obs = (f64, i32, u8);

/// A random goal (as a proto, validated by `GoalSpec::from_proto`), its initial state,
/// whether it becomes a child of an earlier root goal, and measurements of its first target
/// (so that goals reach every progress state).
fn arb_goal() -> impl Strategy<Value = (pb::PolicyGoal, GoalState, Option<prop::sample::Index>, Vec<Obs>)> {
    let text = (
        prop::collection::vec(prop::sample::select(TITLE_WORDS), 1..4),
        prop::sample::select(TITLES_KO),
        prop::sample::select(DESCRIPTIONS),
        prop::sample::select(ORGS),
        prop::sample::select(TITLES_KO),
    );
    let lists = (
        subset(SECTORS),
        subset(REGIONS),
        subset(PARTNERS),
        prop::collection::btree_map(
            prop::sample::select(LABEL_KEYS),
            prop::sample::select(LABEL_VALUES),
            0..3,
        ),
        prop::collection::vec(2024i32..2042, 0..3),
    );
    let meta = (
        prop::sample::select(Pillar::ALL),
        prop::sample::select(vec![GoalState::Planned, GoalState::Active, GoalState::OnHold]),
        prop::option::weighted(0.3, any::<prop::sample::Index>()),
    );
    let measurements = prop::collection::vec(
        (
            prop::sample::select(vec![-1.0, 0.0, 0.2, 0.5, 0.9, 1.0, 1.5]),
            2019i32..2027,
            1u8..11,
        ),
        0..3,
    );
    (text, lists, meta, measurements).prop_map(
        |(
            (words, title_ko, description, org, description_ko),
            (sectors, regions, partners, labels, years),
            (pillar, state, parent),
            measurements,
        )| {
            let goal = pb::PolicyGoal {
                title: words.join(" "),
                title_ko: title_ko.into(),
                description: description.into(),
                description_ko: description_ko.into(),
                lead_organization: org.into(),
                pillar: pillar.to_proto(),
                sectors,
                regions,
                linked_partners: partners.iter().map(|p| format!("tradePartners/{p}")).collect(),
                labels: labels.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
                targets: years
                    .into_iter()
                    .enumerate()
                    .map(|(i, y)| pb::Target {
                        metric: format!("m{i}"),
                        unit: "u".into(),
                        target_value: 1.0,
                        // Some relative targets without a baseline: BASELINE_UNKNOWN.
                        direction: if y % 5 == 0 {
                            pb::target::Direction::IncreaseBy.into()
                        } else {
                            pb::target::Direction::IncreaseTo.into()
                        },
                        target_year: y,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            };
            (goal, state, parent, measurements)
        },
    )
}

/// A random filter over values that occur in the data set (so that filters select
/// something), including times taken from the stored goals.
fn arb_filter(goals: &[PolicyGoal]) -> impl Strategy<Value = Expr> + use<> {
    let cmp = |field: &'static str, op: Op, value: Value| Expr::Cmp {
        field,
        label_key: None,
        op,
        value,
    };
    let eq_ne = || prop::sample::select(vec![Op::Eq, Op::Ne]);
    let ordering = || prop::sample::select(vec![Op::Eq, Op::Ne, Op::Lt, Op::Le, Op::Gt, Op::Ge]);
    let titles: Vec<String> = goals.iter().map(|g| g.spec.title.clone()).collect();
    let roots: Vec<Id> = goals
        .iter()
        .filter(|g| g.spec.parent.is_none())
        .map(|g| g.id.clone())
        .chain([id("nope")])
        .collect();
    let mut times: Vec<OffsetDateTime> = goals
        .iter()
        .flat_map(|g| [g.stamps.create_time, g.stamps.update_time])
        .collect();
    let more: Vec<OffsetDateTime> = times.iter().map(|t| *t + time::Duration::microseconds(1)).collect();
    times.extend(more);
    let text_pivots = vec!["A", "M", "Semiconductor", "a", "z", "반", "50%", "", "MOTIE", "org_1"];

    let leaf = prop_oneof![
        (eq_ne(), prop::sample::select(Pillar::ALL)).prop_map(move |(op, p)| cmp(
            "pillar",
            op,
            Value::Enum(p.as_str())
        )),
        (eq_ne(), prop::sample::select(GoalState::ALL)).prop_map(move |(op, s)| cmp(
            "state",
            op,
            Value::Enum(s.as_str())
        )),
        // title / lead_organization
        (
            prop::sample::select(vec!["title", "lead_organization"]),
            prop_oneof![
                prop::sample::select(SEARCH_WORDS).prop_map(|w| (Op::Has, Value::Text(w.to_owned()))),
                Just((Op::Has, Value::Any)),
                (eq_ne(), prop::sample::select(titles)).prop_map(|(op, t)| (op, Value::Text(t.replace('*', "")))),
                (eq_ne(), prop::sample::select(ORGS)).prop_map(|(op, t)| (op, Value::Text(t.to_owned()))),
                (
                    eq_ne(),
                    prop::sample::select(SEARCH_WORDS),
                    prop::sample::select(vec!["*{}*", "{}*", "*{}", "*{}*z*"])
                )
                    .prop_map(|(op, w, shape)| (op, Value::Pattern(shape.replace("{}", w)))),
                (ordering(), prop::sample::select(text_pivots)).prop_map(|(op, t)| (op, Value::Text(t.to_owned()))),
            ]
        )
            .prop_map(move |(f, (op, v))| cmp(f, op, v)),
        (
            prop::sample::select(vec!["sectors", "regions"]),
            prop_oneof![
                prop::sample::select([SECTORS, REGIONS].concat()).prop_map(|s| Value::Text(s.to_owned())),
                Just(Value::Any)
            ]
        )
            .prop_map(move |(f, v)| cmp(f, Op::Has, v)),
        prop_oneof![
            prop::sample::select(PARTNERS).prop_map(|p| Value::Name(Collection::TradePartners, Some(id(p)))),
            Just(Value::Any),
        ]
        .prop_map(move |v| cmp("linked_partners", Op::Has, v)),
        (eq_ne(), prop::option::of(prop::sample::select(roots))).prop_map(move |(op, p)| cmp(
            "parent",
            op,
            Value::Name(Collection::PolicyGoals, p)
        )),
        (
            prop::sample::select(vec!["create_time", "update_time"]),
            ordering(),
            prop::sample::select(times)
        )
            .prop_map(move |(f, op, t)| cmp(f, op, Value::Time(t))),
        (ordering(), 2023i64..2043).prop_map(move |(op, n)| cmp("targets.target_year", op, Value::Int(n))),
        (eq_ne(), prop::sample::select(ProgressState::ALL)).prop_map(move |(op, s)| cmp(
            "progress_state",
            op,
            Value::Enum(s.as_str())
        )),
        (
            prop::sample::select([LABEL_KEYS, &["missing"]].concat()),
            prop_oneof![
                (eq_ne(), prop::sample::select(LABEL_VALUES)).prop_map(|(op, v)| (op, Value::Text(v.to_owned()))),
                Just((Op::Has, Value::Any)),
            ]
        )
            .prop_map(|(k, (op, value))| Expr::Cmp {
                field: "labels",
                label_key: Some(k.to_owned()),
                op,
                value,
            }),
        Just(cmp("labels", Op::Has, Value::Any)),
        prop::sample::select(SEARCH_WORDS).prop_map(move |w| cmp("search", Op::Has, Value::Text(w.to_owned()))),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::and),
            prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::or),
            inner.prop_map(|e| Expr::Not(Box::new(e))),
        ]
    })
}

/// Walks every page of a filtered list; checks total_size on each page.
async fn walk(
    store: &Store,
    filter: Option<Expr>,
    text: &str,
    order_by: &str,
    show_deleted: bool,
    page_size: usize,
) -> (Vec<String>, i64) {
    let order = list::parse_order_by(FIELDS, order_by).unwrap();
    let mut token = String::new();
    let mut ids = Vec::new();
    let mut total = None;
    loop {
        let page = store
            .list::<PolicyGoal>(&ListQuery {
                order: order.clone(),
                show_deleted,
                page_size,
                page_token: token,
                fingerprint: format!("{text}|{order_by}|{show_deleted}"),
                filter: filter.clone(),
            })
            .await
            .unwrap_or_else(|e| panic!("filter {text:?}: {e}"));
        assert!(page.items.len() <= page_size);
        if let Some(t) = total {
            assert_eq!(t, page.total_size, "total_size changed between pages of {text:?}");
        }
        total = Some(page.total_size);
        ids.extend(page.items.into_iter().map(|g| g.id.as_str().to_owned()));
        if page.next_page_token.is_empty() {
            return (ids, total.unwrap_or_default());
        }
        token = page.next_page_token;
    }
}

#[tokio::test]
async fn sql_selects_exactly_what_the_evaluator_selects() {
    let db = TestDb::create().await;
    let store = Store::from_pool(db.pool.clone(), StoreOptions::default())
        .await
        .unwrap();
    let mut runner = TestRunner::new_with_rng(Config::default(), TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]));

    // Goals link partners, which must exist.
    for p in PARTNERS {
        let partner = registry_proto::v1::TradePartner {
            kind: registry_proto::v1::trade_partner::Kind::Country as i32,
            display_name: p.to_uppercase(),
            ..Default::default()
        };
        let spec = registry_server::domain::partner::PartnerSpec::from_proto("p", &partner).unwrap();
        store.create_partner(&id(p), spec, &ctx()).await.unwrap();
    }

    // The data set: roots and children, some closed, some soft-deleted.
    let mut roots: Vec<(Id, Pillar)> = Vec::new();
    let mut children: HashMap<Id, usize> = HashMap::new();
    let mut created = Vec::new();
    for i in 0..GOALS {
        let (mut proto, state, parent, measurements) = arb_goal().new_tree(&mut runner).unwrap().current();
        let gid = id(&format!("g{i:02}"));
        if let (Some(ix), false) = (parent, roots.is_empty()) {
            let (parent_id, _) = &roots[ix.index(roots.len())];
            proto.parent = format!("policyGoals/{parent_id}");
            proto.pillar = 0; // inherited
            *children.entry(parent_id.clone()).or_default() += 1;
        }
        let spec = GoalSpec::from_proto("policy_goal", &proto).unwrap();
        let goal = store.create_goal(&gid, spec, state, &ctx()).await.unwrap();
        if let Some(t) = goal.spec.targets.first() {
            for (value, year, month) in measurements {
                let observe_time = time::Date::from_calendar_date(year, time::Month::try_from(month).unwrap(), 1)
                    .unwrap()
                    .midnight()
                    .assume_utc();
                let spec = MeasurementSpec {
                    metric: t.metric.clone(),
                    value,
                    observe_time,
                    source: String::new(),
                    note: String::new(),
                };
                store.record_measurement(&gid, spec, &ctx()).await.unwrap();
            }
        }
        if goal.spec.parent.is_none() {
            roots.push((gid.clone(), goal.spec.pillar.unwrap()));
        }
        created.push(gid);
    }
    for (i, gid) in created.iter().enumerate() {
        if i % 6 == 1 {
            store
                .change_goal_state(gid, GoalState::Closed, Some(Outcome::Achieved), "", &ctx())
                .await
                .unwrap();
        } else if i % 9 == 4 && !children.contains_key(gid) {
            store.delete_goal(gid, "", false, false, &ctx()).await.unwrap();
        }
    }
    let (all, _) = walk(&store, None, "", "", true, 1000).await;
    assert_eq!(all.len(), GOALS);
    let truth: Vec<PolicyGoal> = store
        .batch_get::<PolicyGoal>(&all.iter().map(|s| id(s)).collect::<Vec<_>>(), false)
        .await
        .unwrap();
    assert!(truth.iter().any(|g| g.stamps.delete_time.is_some()));
    assert!(truth.iter().any(|g| g.state == GoalState::Closed));
    // The data set reaches every progress state.
    for s in ProgressState::ALL {
        assert!(
            truth.iter().any(|g| g.progress.iter().any(|p| p.state == *s)),
            "no goal is {s}"
        );
    }

    let filters = arb_filter(&truth);
    let orders = [
        "",
        "title",
        "create_time desc",
        "lead_organization, title desc",
        "pillar, state desc",
    ];
    let mut non_trivial = 0;
    for case in 0..CASES {
        let expr = filters.new_tree(&mut runner).unwrap().current();
        let text = expr.to_string();
        // Rendered text parses back to the same AST.
        assert_eq!(filter::parse(FIELDS, &text), Ok(Some(expr.clone())), "{text}");
        let show_deleted = case % 3 == 0;
        let order_by = orders[case % orders.len()];
        let page_size = 1 + case % 7;

        let want: BTreeSet<String> = truth
            .iter()
            .filter(|g| (show_deleted || g.stamps.delete_time.is_none()) && filter::matches(&expr, g))
            .map(|g| g.id.as_str().to_owned())
            .collect();
        let (got, total) = walk(&store, Some(expr), &text, order_by, show_deleted, page_size).await;
        let unique: BTreeSet<String> = got.iter().cloned().collect();
        assert_eq!(unique.len(), got.len(), "a goal was returned twice for {text:?}");
        assert_eq!(unique, want, "filter {text:?} (show_deleted {show_deleted})");
        assert_eq!(total, want.len() as i64, "total_size of {text:?}");
        if !want.is_empty() && want.len() < truth.len() {
            non_trivial += 1;
        }
    }
    // The generator is useful: most filters split the data set.
    assert!(
        non_trivial >= CASES / 3,
        "only {non_trivial} of {CASES} filters split the data set"
    );
}
