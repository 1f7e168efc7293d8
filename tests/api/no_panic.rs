//! Property tests (the in-suite counterparts of the fuzz targets in `fuzz/`): resource-name
//! parsing, page-token decoding, filter parsing and proto → domain conversion never panic on
//! any input, and what they accept round-trips.

use proptest::prelude::*;
use registry_proto::v1 as pb;
use registry_server::domain::{
    Collection, agreement, check_in, filter, goal,
    list::{Cursor, PageTokens, SortValue},
    partner,
};

fn name_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "(policyGoals|tradePartners|agreements|x)/[a-z0-9./-]{0,70}",
        "tradePartners/[a-z]{1,4}/tradeFlows/[0-9+-]{0,6}(/.*)?",
        "policyGoals/[a-z-]{0,5}/checkIns/[a-z0-9-]{0,8}(/.*)?",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn resource_names_parse_or_fail_cleanly(s in name_like()) {
        for c in [Collection::PolicyGoals, Collection::TradePartners] {
            if let Ok(id) = c.parse_name("name", &s) {
                prop_assert_eq!(c.name(&id), s.clone());
            }
        }
        if let Ok((id, year)) = partner::parse_flow_name("name", &s) {
            prop_assert_eq!(partner::flow_name(&id, year), s.clone());
        }
        if let Ok((goal, id)) = check_in::parse_name("name", &s) {
            prop_assert_eq!(check_in::check_in_name(&goal, &id), s.clone());
        }
    }

    #[test]
    fn page_tokens_are_never_accepted_unless_issued(s in any::<String>(), dot in "[A-Za-z0-9_-]{0,60}\\.[A-Za-z0-9_-]{0,30}") {
        let tokens = PageTokens::new(b"secret".to_vec());
        for t in [s.as_str(), dot.as_str()] {
            match tokens.decode("fp", t) {
                Ok(None) => prop_assert!(t.is_empty()),
                Ok(Some(_)) => prop_assert!(false, "a forged token was accepted: {t:?}"),
                Err(_) => {}
            }
        }
    }

    #[test]
    fn issued_page_tokens_round_trip_and_are_bound(id in "[a-z]{1,10}", k in any::<i64>(), t in any::<String>()) {
        let tokens = PageTokens::new(b"secret".to_vec());
        let cursor = Cursor { keys: vec![SortValue::Int(k), SortValue::Text(t), SortValue::Text(id)] };
        let token = tokens.encode("fp", cursor.clone());
        prop_assert_eq!(tokens.decode("fp", &token).unwrap(), Some(cursor));
        prop_assert!(tokens.decode("other", &token).is_err());
        prop_assert!(PageTokens::new(b"other".to_vec()).decode("fp", &token).is_err());
    }

    #[test]
    fn filters_parse_or_fail_cleanly(s in prop_oneof![
        any::<String>(),
        "[a-z_.]{1,20} ?(=|!=|<|>|<=|>=|:) ?[\"a-zA-Z0-9*:() -]{0,30}( (AND|OR|NOT) .{0,30})?",
    ]) {
        let _ = filter::parse(goal::FIELDS, &s);
        let _ = filter::parse(partner::FIELDS, &s);
    }
}

fn any_date() -> impl Strategy<Value = Option<pb::Date>> {
    proptest::option::of(
        (any::<i32>(), -2i32..15, -2i32..40).prop_map(|(year, month, day)| pb::Date { year, month, day }),
    )
}

fn any_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        -1e6f64..1e6
    ]
}

prop_compose! {
    fn any_goal()(
        title in ".{0,210}",
        pillar in -1i32..6,
        state in -1i32..6,
        parent in name_like(),
        partners in proptest::collection::vec(name_like(), 0..3),
        metric in "[a-z-]{0,8}",
        value in any_f64(),
        baseline in proptest::option::of(any_f64()),
        year in 1800i32..2300,
        direction in -1i32..6,
        date in any_date(),
        labels in proptest::collection::hash_map(".{0,8}", ".{0,8}", 0..4),
    ) -> pb::PolicyGoal {
        pb::PolicyGoal {
            title,
            pillar,
            state,
            parent,
            linked_partners: partners,
            targets: vec![pb::Target {
                metric,
                unit: "u".into(),
                target_value: value,
                baseline_value: baseline,
                baseline_date: date,
                direction,
                target_year: year,
                interim_targets: vec![pb::InterimTarget { year, value }],
                ..Default::default()
            }],
            milestones: vec![pb::Milestone { title: "m".into(), due_date: date, state, ..Default::default() }],
            labels,
            ..Default::default()
        }
    }
}

prop_compose! {
    fn any_partner()(
        kind in -1i32..6,
        display_name in ".{0,210}",
        region in ".{0,12}",
        members in proptest::collection::vec(name_like(), 0..3),
        status in -1i32..8,
        atype in -1i32..7,
        d1 in any_date(),
        d2 in any_date(),
        goals in proptest::collection::vec(name_like(), 0..2),
    ) -> pb::TradePartner {
        pb::TradePartner {
            kind,
            display_name,
            region,
            members,
            engagements: vec![pb::Engagement {
                title: "e".into(),
                kind: atype,
                state: status,
                agreement: goals.first().cloned().unwrap_or_default(),
                linked_goals: goals,
                date: d1,
                ..Default::default()
            }, pb::Engagement {
                title: "f".into(),
                date: d2,
                ..Default::default()
            }],
            ..Default::default()
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Any proto goal either converts (and then holds only finite numbers) or is rejected with
    /// at least one field violation; nothing panics.
    #[test]
    fn goal_conversion_is_total(g in any_goal()) {
        match goal::GoalSpec::from_proto("policy_goal", &g) {
            Ok(spec) => {
                prop_assert!(spec.targets.iter().all(|t| t.target_value.is_finite()));
            }
            Err(registry_server::domain::Error::InvalidArgument(v)) => prop_assert!(!v.is_empty()),
            Err(e) => prop_assert!(false, "unexpected error {e:?}"),
        }
    }

    #[test]
    fn partner_conversion_is_total(p in any_partner()) {
        match partner::PartnerSpec::from_proto("trade_partner", &p) {
            Ok(spec) => prop_assert!(!spec.display_name.trim().is_empty()),
            Err(registry_server::domain::Error::InvalidArgument(v)) => prop_assert!(!v.is_empty()),
            Err(e) => prop_assert!(false, "unexpected error {e:?}"),
        }
    }

    #[test]
    fn agreement_conversion_is_total(a in any_agreement()) {
        match agreement::AgreementSpec::from_proto("trade_agreement", &a) {
            // A valid agreement has a party besides Korea, and its status is defined.
            Ok(spec) => {
                prop_assert!(spec.parties.iter().any(|p| p.as_str() != "kr"));
                let _ = spec.status();
            }
            Err(registry_server::domain::Error::InvalidArgument(v)) => prop_assert!(!v.is_empty()),
            Err(e) => prop_assert!(false, "unexpected error {e:?}"),
        }
    }
}

prop_compose! {
    fn any_agreement()(
        title in ".{0,210}",
        kind in -1i32..8,
        parties in proptest::collection::vec(prop_oneof![name_like(), Just("tradePartners/kr".to_owned())], 0..4),
        events in proptest::collection::vec((-1i32..9, any_date(), ".{0,20}"), 0..4),
        labels in proptest::collection::hash_map("[a-zA-Z_-]{0,5}", "[a-z]{0,3}", 0..3),
    ) -> pb::TradeAgreement {
        pb::TradeAgreement {
            title,
            kind,
            parties,
            events: events
                .into_iter()
                .map(|(kind, date, note)| pb::AgreementEvent { kind, date, note, ..Default::default() })
                .collect(),
            labels,
            ..Default::default()
        }
    }
}
