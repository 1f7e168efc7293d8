//! Product sets (`productSets/{id}`) end to end: the standard methods of the resource layer,
//! update masks and etags, soft delete, the change feed and reads at a past time.

use futures::TryStreamExt;
use registry_e2e::{Error, TestApp, pb, violations};

fn set(name: &str, products: &[&str]) -> pb::ProductSet {
    pb::ProductSet {
        display_name: name.into(),
        products: products.iter().map(|p| (*p).to_owned()).collect(),
        ..Default::default()
    }
}

fn create(id: &str, s: pb::ProductSet) -> pb::CreateProductSetRequest {
    pb::CreateProductSetRequest {
        product_set_id: id.into(),
        product_set: Some(s),
        ..Default::default()
    }
}

#[tokio::test]
async fn product_sets_are_resources_with_masks_etags_history_and_soft_delete() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    let minerals = c
        .create_product_set(create(
            "critical-minerals",
            set("Critical minerals", &["260500", "028530"]),
        ))
        .await
        .unwrap();
    assert_eq!(
        (minerals.name.as_str(), minerals.revision),
        ("productSets/critical-minerals", 1)
    );
    assert_eq!(
        minerals.products,
        ["260500", "028530"],
        "codes keep their leading zeros"
    );

    // Every invalid field at once; nothing stored.
    let bad = pb::ProductSet {
        display_name: String::new(),
        products: vec!["28530".into(), "260500".into(), "260500".into(), "26050x".into()],
        ..Default::default()
    };
    let mut got = violations(c.create_product_set(create("Bad Id", bad)).await);
    got.sort();
    assert_eq!(
        got,
        [
            "product_set.display_name",
            "product_set.products[0]",
            "product_set.products[2]",
            "product_set.products[3]",
            "product_set_id",
        ]
    );
    assert!(matches!(
        c.create_product_set(create("critical-minerals", set("Again", &[])))
            .await,
        Err(Error::AlreadyExists { .. })
    ));

    // Update with a mask: only the masked field changes; a stale etag is ABORTED.
    let updated = c
        .update_product_set(pb::UpdateProductSetRequest {
            product_set: Some(pb::ProductSet {
                name: minerals.name.clone(),
                etag: minerals.etag.clone(),
                display_name: "ignored: not in the mask".into(),
                products: vec!["260500".into(), "028530".into(), "811292".into()],
                ..Default::default()
            }),
            update_mask: Some(registry_client::prost_types::FieldMask {
                paths: vec!["products".into()],
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(updated.revision, 2);
    assert_eq!(updated.display_name, "Critical minerals");
    assert_eq!(updated.products.len(), 3);
    let stale = c
        .update_product_set(pb::UpdateProductSetRequest {
            product_set: Some(pb::ProductSet {
                name: minerals.name.clone(),
                etag: minerals.etag.clone(),
                description: "x".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await;
    assert!(matches!(stale, Err(Error::Aborted { .. })), "{stale:?}");

    // List, filter on a product, BatchGet.
    c.create_product_set(create("batteries", set("Battery materials", &["282520"])))
        .await
        .unwrap();
    let all: Vec<pb::ProductSet> = c
        .list_product_sets(pb::ListProductSetsRequest::default())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    let with_cobalt = c
        .list_product_sets_page(pb::ListProductSetsRequest {
            filter: "products:\"811292\"".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(with_cobalt.total_size, 1);
    assert_eq!(with_cobalt.product_sets[0].name, "productSets/critical-minerals");
    let both = c
        .batch_get_product_sets(["productSets/batteries", "productSets/critical-minerals"])
        .await
        .unwrap();
    assert_eq!(both.len(), 2);

    // Soft delete, hidden from List, undelete.
    let deleted = c
        .delete_product_set(pb::DeleteProductSetRequest {
            name: "productSets/batteries".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(deleted.delete_time.is_some() && deleted.expire_time.is_some());
    let live = c
        .list_product_sets_page(pb::ListProductSetsRequest::default())
        .await
        .unwrap();
    assert_eq!(live.total_size, 1);
    let back = c
        .undelete_product_set(pb::UndeleteProductSetRequest {
            name: "productSets/batteries".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(back.delete_time.is_none());

    // The change feed has every change with its snapshot; a read at the time of the create
    // returns the set as it was.
    let history: Vec<pb::Change> = c
        .list_changes(pb::ListChangesRequest {
            resource_name: "productSets/critical-minerals".into(),
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].resource_type, "motie.registry.v1.ProductSet");
    match &history[1].snapshot {
        Some(pb::change::Snapshot::ProductSet(s)) => assert_eq!(s.products.len(), 3),
        other => panic!("expected a product set snapshot, got {other:?}"),
    }
    let then = history[0].change_time.unwrap();
    let old = c
        .get_product_set_at("productSets/critical-minerals", then)
        .await
        .unwrap();
    assert_eq!((old.revision, old.products.len()), (1, 2));
    let kinds: Vec<pb::Change> = c
        .list_changes(pb::ListChangesRequest {
            resource_type: "motie.registry.v1.ProductSet".into(),
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(kinds.len(), 5, "two creates, an update, a delete and an undelete");
}
