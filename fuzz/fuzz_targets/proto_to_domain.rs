//! Proto → domain conversion of goals and partners from arbitrary wire bytes: decoding and
//! validation never panic; an accepted goal holds only finite numbers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use registry_proto::v1 as pb;
use registry_server::domain::{goal::GoalSpec, partner::PartnerSpec};

fuzz_target!(|data: &[u8]| {
    use prost::Message;
    if let Ok(g) = pb::PolicyGoal::decode(data) {
        if let Ok(spec) = GoalSpec::from_proto("policy_goal", &g) {
            assert!(spec.targets.iter().all(|t| t.target_value.is_finite()));
        }
    }
    if let Ok(p) = pb::TradePartner::decode(data) {
        let _ = PartnerSpec::from_proto("trade_partner", &p);
    }
});
