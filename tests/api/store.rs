//! Store tests against a real PostgreSQL, one fresh database per test (`TestDb`, from the
//! harness: found the same way as every other test's database).

use std::time::Duration;

use registry_e2e::TestDb;
use registry_server::{
    domain::{
        Actor, Error, Id,
        enums::GoalState,
        goal::{GoalSpec, PolicyGoal},
    },
    store::{ListQuery, Store, StoreOptions, WriteCtx},
};
use sqlx::PgPool;

fn ctx(request_id: Option<&str>) -> WriteCtx {
    WriteCtx {
        actor: Actor { id: "tok-test".into() },
        request_id: request_id.map(str::to_owned),
        validate_only: false,
    }
}

fn spec(title: &str, parent: Option<&str>) -> GoalSpec {
    let proto = registry_proto::v1::PolicyGoal {
        title: title.into(),
        pillar: if parent.is_some() { 0 } else { 1 },
        parent: parent.map(|p| format!("policyGoals/{p}")).unwrap_or_default(),
        ..Default::default()
    };
    GoalSpec::from_proto("policy_goal", &proto).expect("valid spec")
}

fn id(s: &str) -> Id {
    Id::parse("id", s).expect("valid id")
}

async fn count(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.expect("count")
}

#[tokio::test]
async fn a_failed_write_leaves_no_change_record_and_no_request_id() {
    let db = TestDb::create().await;
    let pool = db.pool.clone();
    let store = Store::from_pool(pool.clone(), StoreOptions::default()).await.unwrap();
    store
        .create_goal(&id("a"), spec("A", None), GoalState::Planned, &ctx(None))
        .await
        .unwrap();
    let err = store
        .create_goal(&id("a"), spec("A", None), GoalState::Planned, &ctx(Some("req-1")))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AlreadyExists { .. }));
    assert_eq!(count(&pool, "SELECT count(*) FROM change_log").await, 1);
    assert_eq!(count(&pool, "SELECT count(*) FROM request_ids").await, 0);
    // The actor is recorded with the change.
    let actor: String = sqlx::query_scalar("SELECT actor FROM change_log")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(actor, "tok-test");
}

#[tokio::test]
async fn page_token_secret_is_shared_across_store_instances() {
    let db = TestDb::create().await;
    let pool = db.pool.clone();
    let a = Store::from_pool(pool.clone(), StoreOptions::default()).await.unwrap();
    for i in 0..3 {
        a.create_goal(&id(&format!("g{i}")), spec("G", None), GoalState::Planned, &ctx(None))
            .await
            .unwrap();
    }
    let query = |token: String| ListQuery {
        order: vec![],
        show_deleted: false,
        page_size: 2,
        page_token: token,
        fingerprint: "fp".into(),
        filter: None,
    };
    let first = a.list::<PolicyGoal>(&query(String::new())).await.unwrap();
    assert_eq!(first.items.len(), 2);
    // A second replica (another Store on the same database) accepts the token.
    let b = Store::from_pool(pool.clone(), StoreOptions::default()).await.unwrap();
    let second = b.list::<PolicyGoal>(&query(first.next_page_token)).await.unwrap();
    assert_eq!(second.items.len(), 1);
    assert_eq!(second.items[0].id.as_str(), "g2");
    assert!(second.next_page_token.is_empty());
}

#[tokio::test]
async fn purge_removes_expired_goals_leaves_first() {
    let db = TestDb::create().await;
    let pool = db.pool.clone();
    let store = Store::from_pool(
        pool.clone(),
        StoreOptions {
            soft_delete_retention: Duration::ZERO,
            ..StoreOptions::default()
        },
    )
    .await
    .unwrap();
    store
        .create_goal(&id("root"), spec("Root", None), GoalState::Planned, &ctx(None))
        .await
        .unwrap();
    store
        .create_goal(&id("leaf"), spec("Leaf", Some("root")), GoalState::Planned, &ctx(None))
        .await
        .unwrap();
    store
        .create_goal(&id("keep"), spec("Keep", None), GoalState::Planned, &ctx(None))
        .await
        .unwrap();
    store
        .delete_goal(&id("root"), "", true, false, &ctx(None))
        .await
        .unwrap();
    // A deleted goal that an engagement of a live partner still serves (data from before
    // deletes checked engagements) is kept.
    store
        .create_goal(&id("served"), spec("Served", None), GoalState::Planned, &ctx(None))
        .await
        .unwrap();
    store
        .delete_goal(&id("served"), "", false, false, &ctx(None))
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO trade_partners (id, kind, display_name, engagements, create_time, update_time)
         VALUES ('us', 'COUNTRY', 'United States', '[{\"title\": \"Talks\", \"linked_goals\": [\"served\"]}]',
                 now(), now())",
    )
    .execute(&pool)
    .await
    .unwrap();
    // expire_time = delete_time + 0; make sure the clock has moved past it.
    sqlx::query(
        "UPDATE policy_goals SET expire_time = expire_time - interval '1 second' WHERE expire_time IS NOT NULL",
    )
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(store.purge_expired().await.unwrap(), 2);
    let left: Vec<String> = sqlx::query_scalar("SELECT id FROM policy_goals ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(left, ["keep", "served"]);
    let purged: Vec<String> =
        sqlx::query_scalar("SELECT resource_name FROM change_log WHERE change_kind = 'PURGED' ORDER BY sequence")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(purged, ["policyGoals/leaf", "policyGoals/root"]);
}

#[tokio::test]
async fn change_sequences_follow_commit_order() {
    let db = TestDb::create().await;
    let pool = db.pool.clone();
    let store = Store::from_pool(pool.clone(), StoreOptions::default()).await.unwrap();
    let writes = (0..40).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .create_goal(&id(&format!("w{i}")), spec("W", None), GoalState::Planned, &ctx(None))
                .await
        })
    });
    for w in futures::future::join_all(writes).await {
        w.unwrap().unwrap();
    }
    let seqs: Vec<i64> = sqlx::query_scalar("SELECT sequence FROM change_log ORDER BY sequence")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(seqs.len(), 40);
    // Sequences are assigned under the change-log lock held until commit, so they are dense
    // when no write rolls back.
    assert_eq!(seqs.last().unwrap() - seqs.first().unwrap(), 39);
}

/// A goal of a batch create: id, spec, initial state.
type NewGoal = (Id, GoalSpec, GoalState);

/// What the database's CHECK constraints and `ON CONFLICT` refuse in a batch insert, which
/// the API cannot send (a duplicate id in one batch, an empty title, a CLOSED goal without an
/// outcome), a `validate_only` batch refuses the same way without inserting.
#[tokio::test]
async fn validate_only_batch_create_refuses_what_the_insert_refuses() {
    let db = TestDb::create().await;
    let pool = db.pool.clone();
    let store = Store::from_pool(pool.clone(), StoreOptions::default()).await.unwrap();
    let validate = WriteCtx {
        validate_only: true,
        ..ctx(None)
    };
    let untitled = GoalSpec {
        title: String::new(),
        ..spec("A", None)
    };
    let cases: Vec<(&str, Vec<NewGoal>)> = vec![
        (
            "duplicate id",
            vec![
                (id("a"), spec("A", None), GoalState::Planned),
                (id("b"), spec("B", Some("a")), GoalState::Planned),
                (id("a"), spec("A again", None), GoalState::Planned),
            ],
        ),
        (
            "empty title",
            vec![
                (id("a"), spec("A", None), GoalState::Planned),
                (id("b"), untitled, GoalState::Planned),
            ],
        ),
        (
            "closed without an outcome",
            vec![(id("a"), spec("A", None), GoalState::Closed)],
        ),
        (
            "its own parent",
            vec![(id("a"), spec("A", Some("a")), GoalState::Planned)],
        ),
    ];
    for (case, goals) in cases {
        let checked = store.create_goals(goals.clone(), &validate).await;
        let real = store.create_goals(goals, &ctx(None)).await;
        assert!(real.is_err(), "{case}: created {real:?}");
        assert_eq!(format!("{checked:?}"), format!("{real:?}"), "{case}");
        assert_eq!(count(&pool, "SELECT count(*) FROM policy_goals").await, 0, "{case}");
        assert_eq!(count(&pool, "SELECT count(*) FROM change_log").await, 0, "{case}");
    }
    // A valid batch validates to the goals the insert returns (but for their times).
    let goals = vec![
        (id("a"), spec("A", None), GoalState::Planned),
        (id("b"), spec("B", Some("a")), GoalState::Active),
    ];
    let checked = store.create_goals(goals.clone(), &validate).await.unwrap();
    assert_eq!(count(&pool, "SELECT count(*) FROM policy_goals").await, 0);
    let created = store.create_goals(goals, &ctx(None)).await.unwrap();
    let untimed = |goals: Vec<PolicyGoal>| {
        goals
            .into_iter()
            .map(|mut g| {
                g.stamps.create_time = time::OffsetDateTime::UNIX_EPOCH;
                g.stamps.update_time = time::OffsetDateTime::UNIX_EPOCH;
                g
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(untimed(checked), untimed(created));
}
