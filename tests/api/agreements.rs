//! TradeAgreementService end to end through registry-client: agreements as records of their
//! own, their status from dated events, engagements that follow them up, and the migration of
//! the agreements partners held inline.

use futures::TryStreamExt;
use pb::{agreement_event::Kind as Event, trade_agreement::Kind, trade_agreement::Status};
use registry_e2e::{Error, TestApp, create_partner, partner, pb, precondition, violations};

fn date(year: i32, month: i32, day: i32) -> Option<pb::Date> {
    Some(pb::Date { year, month, day })
}

fn event(kind: Event, d: Option<pb::Date>) -> pb::AgreementEvent {
    pb::AgreementEvent {
        kind: kind.into(),
        date: d,
        ..Default::default()
    }
}

fn agreement(title: &str, kind: Kind, parties: &[&str]) -> pb::TradeAgreement {
    pb::TradeAgreement {
        title: title.into(),
        kind: kind.into(),
        parties: parties.iter().map(|p| format!("tradePartners/{p}")).collect(),
        ..Default::default()
    }
}

fn create(id: &str, a: pb::TradeAgreement) -> pb::CreateTradeAgreementRequest {
    pb::CreateTradeAgreementRequest {
        trade_agreement_id: id.into(),
        trade_agreement: Some(a),
        ..Default::default()
    }
}

fn update(a: pb::TradeAgreement, paths: &[&str]) -> pb::UpdateTradeAgreementRequest {
    pb::UpdateTradeAgreementRequest {
        trade_agreement: Some(a),
        update_mask: Some(registry_client::prost_types::FieldMask {
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        }),
        ..Default::default()
    }
}

async fn country(app: &TestApp, id: &str, name: &str) {
    app.client
        .create_trade_partner(create_partner(id, partner(pb::trade_partner::Kind::Country, name)))
        .await
        .unwrap();
}

async fn list(app: &TestApp, filter: &str, order_by: &str) -> Vec<String> {
    app.client
        .list_trade_agreements(pb::ListTradeAgreementsRequest {
            filter: filter.into(),
            order_by: order_by.into(),
            ..Default::default()
        })
        .map_ok(|a| a.name)
        .try_collect()
        .await
        .unwrap()
}

#[tokio::test]
async fn agreements_have_parties_events_and_a_derived_status() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    country(&app, "us", "United States").await;
    country(&app, "cl", "Chile").await;

    // Every invalid field at once, nothing stored.
    let bad = pb::TradeAgreement {
        kind: 42,
        parties: vec!["policyGoals/x".into()],
        events: vec![event(Event::Signed, None), event(Event::Unspecified, date(2007, 13, 0))],
        ..Default::default()
    };
    let mut got = violations(c.create_trade_agreement(create("bad", bad)).await);
    got.sort();
    assert_eq!(
        got,
        [
            "trade_agreement.events[0].date",
            "trade_agreement.events[1].date.month",
            "trade_agreement.events[1].kind",
            "trade_agreement.kind",
            "trade_agreement.parties[0]",
            "trade_agreement.title",
        ]
    );
    // Korea is implied: an agreement needs a party besides it.
    assert_eq!(
        violations(
            c.create_trade_agreement(create("kr-only", agreement("Korea alone", Kind::Other, &["kr"])))
                .await
        ),
        ["trade_agreement.parties"]
    );
    // Parties must exist and be live (Korea need not be recorded as a partner).
    assert_eq!(
        precondition(
            c.create_trade_agreement(create("kr-jp", agreement("Korea-Japan", Kind::Fta, &["kr", "jp"])))
                .await
        ),
        "PARTNER_NOT_FOUND"
    );
    assert!(matches!(
        c.get_trade_agreement("agreements/kr-jp").await,
        Err(Error::NotFound { .. })
    ));

    // The Korea-U.S. tariff agreements: no event, so the status is unknown.
    let tariffs = c
        .create_trade_agreement(create(
            "kr-us-tariffs",
            agreement("Korea-U.S. tariff agreements", Kind::TariffArrangement, &["kr", "us"]),
        ))
        .await
        .unwrap();
    assert_eq!(tariffs.name, "agreements/kr-us-tariffs");
    assert_eq!(tariffs.status, Status::Unspecified as i32);
    assert_eq!(tariffs.parties, ["tradePartners/kr", "tradePartners/us"]);
    assert_eq!(tariffs.revision, 1);
    // A retried create (same request id) answers the original; the id with another request
    // is refused; validate_only stores nothing.
    let req = pb::CreateTradeAgreementRequest {
        request_id: "5d0c3a8e-0000-4000-8000-00000000a001".into(),
        ..create("kr-us-fta", agreement("KORUS FTA", Kind::Fta, &["us"]))
    };
    let first = c.create_trade_agreement(req.clone()).await.unwrap();
    assert_eq!(c.create_trade_agreement(req.clone()).await.unwrap(), first);
    let reused = pb::CreateTradeAgreementRequest {
        trade_agreement: Some(agreement("Other", Kind::Fta, &["us"])),
        ..req
    };
    assert_eq!(violations(c.create_trade_agreement(reused).await), ["request_id"]);
    let dry = pb::CreateTradeAgreementRequest {
        validate_only: true,
        ..create("kr-us-dry", agreement("Dry run", Kind::Other, &["us"]))
    };
    assert_eq!(
        c.create_trade_agreement(dry).await.unwrap().name,
        "agreements/kr-us-dry"
    );
    assert!(matches!(
        c.get_trade_agreement("agreements/kr-us-dry").await,
        Err(Error::NotFound { .. })
    ));
    c.delete_trade_agreement(pb::DeleteTradeAgreementRequest {
        name: "agreements/kr-us-fta".into(),
        ..Default::default()
    })
    .await
    .unwrap();

    // Events given out of order: the latest by date decides; year precision is enough.
    let mut chile = agreement("Korea-Chile FTA", Kind::Fta, &["cl"]);
    chile.events = vec![
        event(Event::EnteredIntoForce, date(2004, 4, 1)),
        event(Event::Signed, date(2003, 2, 15)),
        event(Event::NegotiationsLaunched, date(1999, 0, 0)),
    ];
    let chile = c.create_trade_agreement(create("kr-cl-fta", chile)).await.unwrap();
    assert_eq!(chile.status, Status::InForce as i32);

    // A masked update of the events moves the status; the etag guards it.
    let mut amended = chile.clone();
    amended.events.push(event(Event::Suspended, date(2030, 0, 0)));
    let suspended = c
        .update_trade_agreement(update(amended.clone(), &["events"]))
        .await
        .unwrap();
    assert_eq!(suspended.status, Status::Suspended as i32);
    assert_eq!(suspended.revision, 2);
    assert!(matches!(
        c.update_trade_agreement(update(amended.clone(), &["events"])).await,
        Err(Error::Aborted { .. })
    ));
    // The status is output only.
    let mut status_write = suspended.clone();
    status_write.status = Status::Terminated as i32;
    assert_eq!(
        violations(c.update_trade_agreement(update(status_write, &["status"])).await),
        ["update_mask.paths[0]"]
    );
    // The history, and the agreement as it was before the update (read_time).
    let history: Vec<pb::Change> = c
        .list_changes(pb::ListChangesRequest {
            resource_name: "agreements/kr-cl-fta".into(),
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    let kinds: Vec<i32> = history.iter().map(|ch| ch.kind).collect();
    assert_eq!(
        kinds,
        [pb::change::Kind::Created as i32, pb::change::Kind::Updated as i32]
    );
    let before = c
        .get_trade_agreement_at("agreements/kr-cl-fta", history[0].change_time.unwrap())
        .await
        .unwrap();
    assert_eq!(before.status, Status::InForce as i32);
    assert_eq!(before.events.len(), 3);

    // Filters and order.
    assert_eq!(list(&app, "status = SUSPENDED", "").await, ["agreements/kr-cl-fta"]);
    assert_eq!(
        list(&app, "kind = TARIFF_ARRANGEMENT", "").await,
        ["agreements/kr-us-tariffs"]
    );
    assert_eq!(
        list(&app, r#"parties:"tradePartners/us""#, "").await,
        ["agreements/kr-us-tariffs"]
    );
    assert_eq!(list(&app, "events.kind = SIGNED", "").await, ["agreements/kr-cl-fta"]);
    assert_eq!(
        list(&app, "", "title desc").await,
        ["agreements/kr-us-tariffs", "agreements/kr-cl-fta"]
    );
    let got = c
        .batch_get_trade_agreements(pb::BatchGetTradeAgreementsRequest {
            names: vec!["agreements/kr-us-tariffs".into(), "agreements/kr-cl-fta".into()],
            allow_missing: false,
        })
        .await
        .unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].name, "agreements/kr-us-tariffs");

    // Soft delete and undelete.
    let deleted = c
        .delete_trade_agreement(pb::DeleteTradeAgreementRequest {
            name: "agreements/kr-us-tariffs".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(deleted.delete_time.is_some());
    assert_eq!(list(&app, "", "").await, ["agreements/kr-cl-fta"]);
    let restored = c
        .undelete_trade_agreement(pb::UndeleteTradeAgreementRequest {
            name: "agreements/kr-us-tariffs".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(restored.delete_time.is_none());

    // A viewer reads but does not write.
    let (_, viewer) = app.client_with_role(registry_server::domain::enums::Role::Viewer).await;
    viewer.get_trade_agreement("agreements/kr-cl-fta").await.unwrap();
    assert!(matches!(
        viewer
            .create_trade_agreement(create("x", agreement("X", Kind::Other, &["us"])))
            .await,
        Err(Error::PermissionDenied { .. })
    ));
}

#[tokio::test]
async fn engagements_follow_up_agreements_and_partners_list_theirs() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    country(&app, "us", "United States").await;
    let follow_up = |agreement: &str| pb::TradePartner {
        engagements: vec![pb::Engagement {
            title: "Follow-up negotiations".into(),
            kind: pb::engagement::Kind::Negotiation.into(),
            agreement: agreement.into(),
            ..Default::default()
        }],
        ..partner(pb::trade_partner::Kind::Country, "United States")
    };
    let write = |p: pb::TradePartner| pb::UpdateTradePartnerRequest {
        trade_partner: Some(pb::TradePartner {
            name: "tradePartners/us".into(),
            ..p
        }),
        update_mask: Some(registry_client::prost_types::FieldMask {
            paths: vec!["engagements".into()],
        }),
        ..Default::default()
    };
    // The reference must be an agreement's name, of one that exists.
    assert_eq!(
        violations(c.update_trade_partner(write(follow_up("tradePartners/us"))).await),
        ["trade_partner.engagements[0].agreement"]
    );
    assert_eq!(
        precondition(
            c.update_trade_partner(write(follow_up("agreements/kr-us-tariffs")))
                .await
        ),
        "AGREEMENT_NOT_FOUND"
    );
    c.create_trade_agreement(create(
        "kr-us-tariffs",
        agreement("Korea-U.S. tariff agreements", Kind::TariffArrangement, &["kr", "us"]),
    ))
    .await
    .unwrap();
    let us = c
        .update_trade_partner(write(follow_up("agreements/kr-us-tariffs")))
        .await
        .unwrap();
    assert_eq!(us.engagements[0].agreement, "agreements/kr-us-tariffs");
    // The partner lists its agreements by reference.
    assert_eq!(us.trade_agreements, ["agreements/kr-us-tariffs"]);
    #[allow(deprecated)]
    let inline = &us.agreements;
    assert!(inline.is_empty());

    // An agreement followed up by a live engagement is not deleted by accident.
    let delete = |force: bool| pb::DeleteTradeAgreementRequest {
        name: "agreements/kr-us-tariffs".into(),
        force,
        ..Default::default()
    };
    assert_eq!(
        precondition(c.delete_trade_agreement(delete(false)).await),
        "LINKED_BY_PARTNERS"
    );
    c.delete_trade_agreement(delete(true)).await.unwrap();
    let us = c.get_trade_partner("tradePartners/us").await.unwrap();
    assert_eq!(us.engagements[0].agreement, "", "force removed the reference");
    assert_eq!(us.engagements[0].title, "Follow-up negotiations");
    assert!(us.trade_agreements.is_empty(), "a deleted agreement is not listed");
    assert_eq!(
        precondition(
            c.update_trade_partner(write(follow_up("agreements/kr-us-tariffs")))
                .await
        ),
        "AGREEMENT_DELETED"
    );

    // A party to a live agreement is deleted only by force; the agreement keeps naming it.
    country(&app, "cl", "Chile").await;
    c.create_trade_agreement(create("kr-cl-fta", agreement("Korea-Chile FTA", Kind::Fta, &["cl"])))
        .await
        .unwrap();
    let delete_chile = |force: bool| pb::DeleteTradePartnerRequest {
        name: "tradePartners/cl".into(),
        force,
        ..Default::default()
    };
    assert_eq!(
        precondition(c.delete_trade_partner(delete_chile(false)).await),
        "PARTY_TO_AGREEMENTS"
    );
    c.delete_trade_partner(delete_chile(true)).await.unwrap();
    let fta = c.get_trade_agreement("agreements/kr-cl-fta").await.unwrap();
    assert_eq!(fta.parties, ["tradePartners/cl"]);
}

/// The migrations move the agreements partners held inline into agreement records, losing
/// nothing: checked on a database holding the old shape.
#[tokio::test]
async fn inline_partner_agreements_migrate_to_agreement_records() {
    let app = TestApp::spawn_prepared(async |pool| {
        // Every migration before this change's first, then rows of the old shape.
        let migrator = &registry_server::store::MIGRATOR;
        let previous = migrator
            .iter()
            .map(|m| m.version)
            .filter(|v| *v < 20261201200000)
            .max()
            .unwrap();
        migrator.run_to(previous, pool).await.unwrap();
        sqlx::query(
            r#"INSERT INTO trade_partners (id, kind, display_name, agreements, create_time, update_time)
               VALUES ('cl', 'COUNTRY', 'Chile', $1::jsonb, now(), now()),
                      ('vn', 'COUNTRY', 'Viet Nam', $2::jsonb, now(), now())"#,
        )
        .bind(
            r#"[{"title": "Korea-Chile FTA", "type": "FTA", "status": "IN_FORCE",
                 "signature_date": {"year": 2003, "month": 2, "day": 15},
                 "entry_into_force_date": {"year": 2004, "month": 4, "day": 1},
                 "description": "The first FTA of Korea."},
                {"title": "Korea-Chile FTA", "type": "FTA", "status": "UNDER_REVIEW"}]"#,
        )
        .bind(r#"[{"title": "Korea–Viet Nam MoU", "type": "MOU", "status": "IN_NEGOTIATION"}]"#)
        .execute(pool)
        .await
        .unwrap();
    })
    .await;
    let c = &app.client;
    let all: Vec<pb::TradeAgreement> = c
        .list_trade_agreements(pb::ListTradeAgreementsRequest::default())
        .try_collect()
        .await
        .unwrap();
    let names: Vec<&str> = all.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "agreements/cl-korea-chile-fta",
            "agreements/cl-korea-chile-fta-2",
            "agreements/vn-korea-viet-nam-mou"
        ]
    );
    let fta = &all[0];
    assert_eq!(fta.title, "Korea-Chile FTA");
    assert_eq!(fta.kind, Kind::Fta as i32);
    assert_eq!(fta.parties, ["tradePartners/cl"]);
    assert_eq!(fta.description, "The first FTA of Korea.");
    assert_eq!(
        fta.events,
        [
            event(Event::Signed, date(2003, 2, 15)),
            event(Event::EnteredIntoForce, date(2004, 4, 1)),
        ]
    );
    assert_eq!(fta.status, Status::InForce as i32);
    assert_eq!(fta.labels["status-before-events"], "in_force");
    // Without dates the old status cannot be an event: it is kept as a label.
    let review = &all[1];
    assert!(review.events.is_empty());
    assert_eq!(review.status, Status::Unspecified as i32);
    assert_eq!(review.labels["status-before-events"], "under_review");
    assert_eq!(all[2].kind, Kind::Mou as i32);
    assert_eq!(all[2].title, "Korea–Viet Nam MoU");

    // The partner shows its agreements by reference, no longer inline.
    let cl = c.get_trade_partner("tradePartners/cl").await.unwrap();
    #[allow(deprecated)]
    let inline = &cl.agreements;
    assert!(inline.is_empty());
    assert_eq!(
        cl.trade_agreements,
        ["agreements/cl-korea-chile-fta", "agreements/cl-korea-chile-fta-2"]
    );
    // Their history starts with the move (a CREATED change by `system`), so reads at a time
    // and the change feed see them.
    let history: Vec<pb::Change> = c
        .list_changes(pb::ListChangesRequest {
            resource_name: "agreements/cl-korea-chile-fta".into(),
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].kind, pb::change::Kind::Created as i32);
    assert_eq!(history[0].actor, "system");
    let Some(pb::change::Snapshot::TradeAgreement(snapshot)) = &history[0].snapshot else {
        panic!("no agreement snapshot: {:?}", history[0].snapshot);
    };
    assert_eq!(snapshot, fta);
    let then = c
        .get_trade_agreement_at("agreements/cl-korea-chile-fta", history[0].change_time.unwrap())
        .await
        .unwrap();
    assert_eq!(&then, fta);

    // The moved records are ordinary agreements: they update like any other.
    let mut edited = review.clone();
    edited.events = vec![event(Event::Amended, date(2019, 0, 0))];
    let edited = c.update_trade_agreement(update(edited, &["events"])).await.unwrap();
    assert_eq!(edited.status, Status::InForce as i32);
}
