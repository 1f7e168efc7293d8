//! The migration of the inline risk lists of goals and partners into the risk register, on a
//! database holding the old shapes: migrated up to the version before the register, rows
//! written as that version stored them, then the remaining migrations.

use registry_e2e::TestDb;
use registry_server::{
    domain::{Id, goal::PolicyGoal, partner::TradePartner, risk::RiskEntry},
    store::{MIGRATOR, Store, StoreOptions},
};

/// The last migration before the risk register.
const BEFORE_REGISTER: i64 = 20261201050002;

#[tokio::test]
async fn inline_risks_become_deduplicated_register_entries() {
    let db = TestDb::empty().await;
    let pool = &db.pool;
    MIGRATOR.run_to(BEFORE_REGISTER, pool).await.unwrap();
    let protectionism = r#"{"category": "PROTECTIONISM", "severity": "HIGH", "title": "US protectionism",
        "description": "Tariffs on exports"}"#;
    let minerals = r#"{"category": "CRITICAL_MINERAL_CONCENTRATION", "title": "Key minerals"}"#;
    for (id, risks, deleted) in [
        ("exports", format!("[{protectionism}, {minerals}]"), false),
        ("autos", format!("[{protectionism}]"), false),
        (
            "old",
            r#"[{"category": "OTHER", "title": "Old risk", "description": "kept"}]"#.to_owned(),
            true,
        ),
        ("calm", "[]".to_owned(), false),
    ] {
        sqlx::query(
            "INSERT INTO policy_goals (id, title, pillar, state, risks, create_time, update_time, delete_time, expire_time)
             VALUES ($1, $1, 'TRADE_NATIONAL_INTEREST', 'PLANNED', $2::jsonb, now(), now(),
                     CASE WHEN $3 THEN now() END, CASE WHEN $3 THEN now() + interval '1 day' END)",
        )
        .bind(id)
        .bind(risks)
        .bind(deleted)
        .execute(pool)
        .await
        .unwrap();
    }
    // The same title and category on a partner, with another description and severity.
    sqlx::query(
        "INSERT INTO trade_partners (id, kind, display_name, risks, create_time, update_time)
         VALUES ('us', 'COUNTRY', 'United States', $1::jsonb, now(), now())",
    )
    .bind(
        r#"[{"category": "PROTECTIONISM", "severity": "MEDIUM", "title": "US protectionism",
        "description": "Prioritisation of national interest"}]"#,
    )
    .execute(pool)
    .await
    .unwrap();

    MIGRATOR.run(pool).await.unwrap();

    let store = Store::from_pool(pool.clone(), StoreOptions::default()).await.unwrap();
    let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM risks ORDER BY title")
        .fetch_all(pool)
        .await
        .unwrap();
    let ids: Vec<Id> = ids.into_iter().map(|s| Id::try_from(s).unwrap()).collect();
    let risks: Vec<RiskEntry> = store.batch_get::<RiskEntry>(&ids, false).await.unwrap();
    let summary: Vec<(&str, &str, Vec<&str>, Vec<&str>)> = risks
        .iter()
        .map(|r| {
            (
                r.spec.title.as_str(),
                r.spec.category.map(|c| c.as_str()).unwrap_or_default(),
                r.spec.goals.iter().map(Id::as_str).collect(),
                r.spec.partners.iter().map(Id::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "Key minerals",
                "CRITICAL_MINERAL_CONCENTRATION",
                vec!["exports"],
                vec![]
            ),
            ("Old risk", "OTHER", vec!["old"], vec![]),
            (
                "US protectionism",
                "PROTECTIONISM",
                vec!["autos", "exports"],
                vec!["us"]
            ),
        ],
        "one entry per (category, title), linked to every carrier"
    );
    let us = &risks[2];
    assert_eq!(
        us.spec.description, "Tariffs on exports\n\nPrioritisation of national interest",
        "every distinct description is kept"
    );
    assert_eq!(
        us.spec.labels.get("inline-severity").map(String::as_str),
        Some("high-medium")
    );
    assert_eq!(us.spec.labels.get("migrated").map(String::as_str), Some("inline-risks"));
    assert_eq!(risks[1].spec.description, "kept");
    assert!(!risks[0].spec.labels.contains_key("inline-severity"));
    assert!(risks.iter().all(|r| r.spec.state.is_none() && r.spec.likelihood == 0));
    // Each entry's creation is in the change log, with a snapshot the server reads back.
    let now = time::OffsetDateTime::now_utc();
    for r in &risks {
        let then = store.get_at::<RiskEntry>(&r.id, now).await.unwrap();
        assert_eq!(then.as_ref(), Some(r), "the created snapshot of {}", r.id);
    }

    // The inline lists stay readable, and the views list the register entries.
    let exports = store
        .get::<PolicyGoal>(&Id::try_from("exports".to_owned()).unwrap())
        .await
        .unwrap();
    assert_eq!(exports.spec.risks.len(), 2);
    let mut register: Vec<&str> = exports.risk_register.iter().map(Id::as_str).collect();
    register.sort();
    let mut expected = vec![risks[0].id.as_str(), risks[2].id.as_str()];
    expected.sort();
    assert_eq!(register, expected);
    let partner = store
        .get::<TradePartner>(&Id::try_from("us".to_owned()).unwrap())
        .await
        .unwrap();
    assert_eq!(partner.spec.risks.len(), 1);
    assert_eq!(partner.risk_register, [risks[2].id.clone()]);
}
