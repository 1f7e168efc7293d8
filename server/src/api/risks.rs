//! `motie.registry.v1.RiskRegisterService`: every method is the resource layer's.

use registry_proto::v1::{self as pb, risk_register_service_server::RiskRegisterService};

use super::resource;
use crate::domain::risk::RiskEntry;

service_api!(
    /// The RiskRegisterService implementation.
    RisksApi
);

resource::resource_service! {
    impl RiskRegisterService for RisksApi {
        resource RiskEntry / RiskEntries { risk / risks };
        create;
    }

}
