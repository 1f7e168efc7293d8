//! Dev seeding: `registryd dev` loads `seeds/` into an empty registry through the API, with
//! the same import as `registryctl import`.

use std::path::Path;

use registry_client::{RegistryClient, pb};

/// Imports `seeds` through the API at `endpoint` when the registry holds no goals and no
/// partners (also none soft-deleted): the first start. Returns what happened, for the
/// banner; a failure is reported there and does not stop the server.
pub async fn seed_once(endpoint: &str, token: &str, seeds: &Path) -> String {
    if !seeds.exists() {
        return format!(
            "none ({} not found; --seeds DIR or REGISTRY_DEV_SEEDS)",
            seeds.display()
        );
    }
    let client = match RegistryClient::builder(endpoint.to_owned())
        .token(token.to_owned())
        .user_agent("registryd-dev-seeds")
        .connect()
        .await
    {
        Ok(c) => c,
        Err(e) => return format!("not imported: cannot connect: {e}"),
    };
    let goals = client
        .list_policy_goals_page(pb::ListPolicyGoalsRequest {
            page_size: 1,
            show_deleted: true,
            ..Default::default()
        })
        .await
        .map(|r| r.policy_goals.is_empty());
    let partners = client
        .list_trade_partners_page(pb::ListTradePartnersRequest {
            page_size: 1,
            show_deleted: true,
            ..Default::default()
        })
        .await
        .map(|r| r.trade_partners.is_empty());
    match (goals, partners) {
        (Ok(true), Ok(true)) => {}
        (Ok(_), Ok(_)) => {
            return format!(
                "kept (the database is not empty; not imported again from {})",
                seeds.display()
            );
        }
        (Err(e), _) | (_, Err(e)) => return format!("not imported: {e}"),
    }
    match registry_cli::import_seeds(&client, seeds).await {
        Ok(report) => format!("imported from {}: {}", seeds.display(), report.total),
        Err(e) => {
            tracing::warn!(seeds = %seeds.display(), error = %e, "the seed import failed");
            format!("import from {} failed: {e}", seeds.display())
        }
    }
}
