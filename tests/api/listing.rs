//! ListPolicyGoals paging and ordering end to end.

use std::collections::HashSet;

use futures::TryStreamExt;
use registry_e2e::{TestApp, create, goal, pb, violations};

async fn seed(app: &TestApp, n: usize) {
    for i in 0..n {
        let mut g = goal(&format!("Goal {:03}", (i * 37) % n), pb::Pillar::IndustrialResurgence);
        g.lead_organization = format!("org-{}", i % 3);
        app.client
            .create_policy_goal(create(&format!("g{i:03}"), g))
            .await
            .unwrap();
    }
}

async fn walk(app: &TestApp, order_by: &str, page_size: i32) -> Vec<pb::PolicyGoal> {
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let page = app
            .client
            .list_policy_goals_page(pb::ListPolicyGoalsRequest {
                page_size,
                page_token: token.clone(),
                order_by: order_by.into(),
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(page.policy_goals.len() <= page_size as usize);
        out.extend(page.policy_goals);
        if page.next_page_token.is_empty() {
            return out;
        }
        token = page.next_page_token;
    }
}

#[tokio::test]
async fn every_ordering_pages_each_row_once_in_order() {
    let app = TestApp::spawn().await;
    seed(&app, 23).await;
    for order_by in [
        "",
        "title",
        "title desc",
        "create_time desc",
        "update_time",
        "lead_organization, title desc",
        "lead_organization desc, create_time",
        "pillar, state, name desc",
    ] {
        for page_size in [1, 4, 50] {
            let rows = walk(&app, order_by, page_size).await;
            let names: Vec<&str> = rows.iter().map(|g| g.name.as_str()).collect();
            let unique: HashSet<&str> = names.iter().copied().collect();
            assert_eq!((names.len(), unique.len()), (23, 23), "{order_by:?} / {page_size}");
            // Same order as one big page.
            let one: Vec<String> = walk(&app, order_by, 1000).await.into_iter().map(|g| g.name).collect();
            assert_eq!(names, one, "{order_by:?} / {page_size}");
        }
    }
    let by_title: Vec<String> = walk(&app, "title desc", 5).await.into_iter().map(|g| g.title).collect();
    let mut sorted = by_title.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(by_title, sorted);
}

#[tokio::test]
async fn pages_have_no_gaps_or_duplicates_while_rows_are_inserted() {
    let app = TestApp::spawn().await;
    seed(&app, 60).await;
    let before: HashSet<String> = (0..60).map(|i| format!("policyGoals/g{i:03}")).collect();
    let writer = {
        let c = app.new_client().await;
        tokio::spawn(async move {
            for i in 0..40 {
                c.create_policy_goal(create(
                    &format!("new{i:03}"),
                    goal("Inserted", pb::Pillar::IndustrialResurgence),
                ))
                .await
                .unwrap();
            }
        })
    };
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = app
            .client
            .list_policy_goals_page(pb::ListPolicyGoalsRequest {
                page_size: 7,
                page_token: token.clone(),
                order_by: "create_time".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        seen.extend(page.policy_goals.into_iter().map(|g| g.name));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
        tokio::task::yield_now().await;
    }
    writer.await.unwrap();
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no row twice");
    assert!(before.iter().all(|n| unique.contains(n)), "every pre-existing row seen");
}

#[tokio::test]
async fn page_size_total_size_and_token_rules() {
    let app = TestApp::spawn().await;
    seed(&app, 5).await;
    let c = &app.client;
    let page = c
        .list_policy_goals_page(pb::ListPolicyGoalsRequest {
            page_size: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!((page.policy_goals.len(), page.total_size), (2, 5));
    // Default 50, clamp to 1000.
    let all = c.list_policy_goals_page(Default::default()).await.unwrap();
    assert_eq!(all.policy_goals.len(), 5);
    assert!(all.next_page_token.is_empty());
    let huge = c
        .list_policy_goals_page(pb::ListPolicyGoalsRequest {
            page_size: 1_000_000,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(huge.policy_goals.len(), 5);
    assert_eq!(
        violations(
            c.list_policy_goals_page(pb::ListPolicyGoalsRequest {
                page_size: -1,
                ..Default::default()
            })
            .await
        ),
        ["page_size"]
    );
    // A token only works with the request it came from, and cannot be forged.
    for req in [
        pb::ListPolicyGoalsRequest {
            page_token: page.next_page_token.clone(),
            order_by: "title".into(),
            ..Default::default()
        },
        pb::ListPolicyGoalsRequest {
            page_token: page.next_page_token.clone(),
            show_deleted: true,
            ..Default::default()
        },
        pb::ListPolicyGoalsRequest {
            page_token: format!("{}x", page.next_page_token),
            ..Default::default()
        },
        pb::ListPolicyGoalsRequest {
            page_token: "eyJpZCI6ImcwMDMifQ".into(),
            ..Default::default()
        },
    ] {
        assert_eq!(violations(c.list_policy_goals_page(req).await), ["page_token"]);
    }
    // A changed page_size is fine.
    let next = c
        .list_policy_goals_page(pb::ListPolicyGoalsRequest {
            page_size: 10,
            page_token: page.next_page_token,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(next.policy_goals.len(), 3);
    for order_by in ["bogus", "title sideways", "title, title", "sectors"] {
        assert_eq!(
            violations(
                c.list_policy_goals_page(pb::ListPolicyGoalsRequest {
                    order_by: order_by.into(),
                    ..Default::default()
                })
                .await
            ),
            ["order_by"],
            "{order_by}"
        );
    }
    // The streaming helper walks every page.
    let streamed: Vec<_> = c
        .list_policy_goals(pb::ListPolicyGoalsRequest {
            page_size: 2,
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(streamed.len(), 5);
}
