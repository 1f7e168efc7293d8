//! The benchmark database: a fresh database per run, the 100k-goal dataset loaded with one
//! `INSERT … SELECT … generate_series` per chunk (not through the API), and the sqlx pool of
//! the database baselines.

use std::{str::FromStr, time::Duration};

use anyhow::Context;
use registry_client::{RegistryClient, pb};
use sqlx::{
    Connection, Executor, PgConnection, PgPool,
    postgres::{PgConnectOptions, PgPoolOptions},
};

/// Id of the dataset goal number `i`.
pub fn goal_id(i: u64) -> String {
    format!("bench-{i}")
}

/// Id of the template goal the dataset is copied from.
pub const TEMPLATE_ID: &str = "bench-template";

/// A scratch database on the server of `admin_url`, dropped by [`ScratchDb::drop_now`].
#[derive(Debug)]
pub struct ScratchDb {
    pub name: String,
    pub url: String,
    admin_url: String,
}

impl ScratchDb {
    pub async fn create(admin_url: &str) -> anyhow::Result<ScratchDb> {
        let name = format!("registry_bench_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(admin_url).await.with_context(|| {
            format!(
                "cannot reach PostgreSQL at {}",
                registryd::pg::redact_password(admin_url)
            )
        })?;
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .await
            .context("CREATE DATABASE")?;
        admin.close().await.ok();
        let url = registryd::pg::with_database(admin_url, &name)?;
        Ok(ScratchDb {
            name,
            url,
            admin_url: admin_url.to_owned(),
        })
    }

    /// Drops the database (disconnecting whoever still uses it).
    pub async fn drop_now(&self) -> anyhow::Result<()> {
        let mut admin = PgConnection::connect(&self.admin_url).await?;
        admin
            .execute(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            )))
            .await?;
        admin.close().await.ok();
        Ok(())
    }
}

/// The pool the `db-*` baselines use: as many connections as the server's pool, so the
/// database baseline and the service compete for PostgreSQL on equal terms.
pub async fn baseline_pool(url: &str, connections: u32) -> anyhow::Result<PgPool> {
    let opts = PgConnectOptions::from_str(url)?.application_name("registry-bench");
    Ok(PgPoolOptions::new()
        .max_connections(connections.max(1))
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(opts)
        .await?)
}

/// A realistic goal: every commonly used field set, one target and one milestone.
pub fn realistic_goal(title: &str) -> pb::PolicyGoal {
    pb::PolicyGoal {
        title: title.to_owned(),
        title_ko: "제조업 AX 확산".into(),
        pillar: pb::Pillar::IndustrialResurgence.into(),
        description: "Spread AI transformation across manufacturing: AI factories, \
                      autonomous production lines and shared industrial data platforms."
            .into(),
        sectors: vec!["semiconductors".into(), "automotive".into()],
        regions: vec!["Gyeonggi".into(), "Ulsan".into()],
        lead_organization: "Industrial Policy Bureau".into(),
        confidence: pb::policy_goal::Confidence::Medium.into(),
        targets: vec![pb::Target {
            metric: "ai-factories".into(),
            unit: "factories".into(),
            baseline_value: Some(0.0),
            target_value: 500.0,
            direction: pb::target::Direction::IncreaseTo.into(),
            target_year: 2030,
            ..Default::default()
        }],
        milestones: vec![pb::Milestone {
            title: "Launch the AI factory programme".into(),
            due_date: Some(pb::Date {
                year: 2026,
                month: 6,
                day: 0,
            }),
            state: pb::milestone::State::Planned.into(),
            ..Default::default()
        }],
        source: "registry-bench".into(),
        labels: [
            ("origin".to_owned(), "bench".to_owned()),
            ("tier".to_owned(), "1".to_owned()),
        ]
        .into_iter()
        .collect(),
        ..Default::default()
    }
}

/// Copies the template goal (created through the API, so its JSON columns are exactly what
/// the server writes, stored progress included) into goals `bench-0 … bench-{n-1}`. Pillars cycle over the three and
/// states over PLANNED/ACTIVE/ON_HOLD/CLOSED, so `state = ACTIVE AND pillar =
/// INDUSTRIAL_RESURGENCE` matches one goal in twelve. No change-log rows are written: the
/// read scenarios never look at the log, and the feed only follows new sequences.
pub async fn load(client: &RegistryClient, pool: &PgPool, n: u64, verbose: bool) -> anyhow::Result<()> {
    match client
        .create_policy_goal(pb::CreatePolicyGoalRequest {
            policy_goal_id: TEMPLATE_ID.into(),
            policy_goal: Some(realistic_goal("Spread Manufacturing AX (AI Transformation)")),
            ..Default::default()
        })
        .await
    {
        Ok(_) | Err(registry_client::Error::AlreadyExists { .. }) => {}
        Err(e) => return Err(e).context("creating the template goal"),
    }
    const CHUNK: u64 = 25_000;
    let mut from = 0;
    while from < n {
        let to = (from + CHUNK).min(n);
        sqlx::query(
            "INSERT INTO policy_goals (id, title, title_ko, pillar, description, sectors, regions,
                 lead_organization, state, outcome, confidence, confidence_note, targets, milestones,
                 risks, source, labels, progress_states, progress, create_time, update_time)
             SELECT 'bench-' || i,
                    'Goal ' || i || ': ' || t.title,
                    t.title_ko,
                    (ARRAY['INDUSTRIAL_RESURGENCE', 'TRADE_NATIONAL_INTEREST', 'SUSTAINABLE_GROWTH_PARTNERSHIP'])[i % 3 + 1],
                    t.description || ' #' || i,
                    t.sectors, t.regions, t.lead_organization,
                    (ARRAY['PLANNED', 'ACTIVE', 'ON_HOLD', 'CLOSED'])[(i / 3) % 4 + 1],
                    CASE WHEN (i / 3) % 4 = 3 THEN 'ACHIEVED' END,
                    t.confidence, t.confidence_note, t.targets, t.milestones, t.risks, t.source,
                    t.labels || jsonb_build_object('shard', (i % 16)::text),
                    t.progress_states, t.progress,
                    now() - make_interval(secs => $2 - i), now() - make_interval(secs => $2 - i)
             FROM generate_series($1::bigint, $2::bigint - 1) AS i,
                  (SELECT * FROM policy_goals WHERE id = $3) AS t
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(from as i64)
        .bind(to as i64)
        .bind(TEMPLATE_ID)
        .execute(pool)
        .await
        .context("loading the dataset")?;
        if verbose {
            eprintln!("  loaded {to}/{n} goals");
        }
        from = to;
    }
    // What autovacuum would do soon anyway: statistics for the planner and a visibility map
    // for index-only scans (List's exact `total_size` count).
    sqlx::query("VACUUM (ANALYZE) policy_goals")
        .execute(pool)
        .await
        .context("VACUUM ANALYZE")?;
    Ok(())
}
