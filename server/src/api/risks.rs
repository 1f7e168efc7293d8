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
        resource RiskEntry;
        get_risk_entry(GetRiskEntryRequest);
        list_risk_entries(ListRiskEntriesRequest) -> ListRiskEntriesResponse { risks };
        batch_get_risk_entries(BatchGetRiskEntriesRequest) -> BatchGetRiskEntriesResponse { risks };
        update_risk_entry(UpdateRiskEntryRequest) { risk };
        delete_risk_entry(DeleteRiskEntryRequest);
        undelete_risk_entry(UndeleteRiskEntryRequest);
        create create_risk_entry(CreateRiskEntryRequest) { risk_id };
    }

}
