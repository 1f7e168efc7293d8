//! `motie.registry.v1.RiskRegisterService`: every method is the resource layer's.

use registry_proto::annotations::normalize_text;
use registry_proto::v1::{self as pb, risk_register_service_server::RiskRegisterService};
use tonic::{Request, Response, Status};

use super::{all, resource, write_ctx};
use crate::{
    domain::{
        Error, Id, Violations,
        risk::{RiskEntry, RiskSpec},
    },
    store::Store,
};

/// The RiskRegisterService implementation.
#[derive(Debug, Clone)]
pub struct RisksApi {
    store: Store,
}

impl RisksApi {
    pub fn new(store: Store) -> Self {
        RisksApi { store }
    }
}

resource::resource_service! {
    impl RiskRegisterService for RisksApi {
        resource RiskEntry;
        get_risk_entry(GetRiskEntryRequest);
        list_risk_entries(ListRiskEntriesRequest) -> ListRiskEntriesResponse { risks };
        batch_get_risk_entries(BatchGetRiskEntriesRequest) -> BatchGetRiskEntriesResponse { risks };
        update_risk_entry(UpdateRiskEntryRequest) { risk };
        delete_risk_entry(DeleteRiskEntryRequest);
        undelete_risk_entry(UndeleteRiskEntryRequest);
    }

    async fn create_risk_entry(
        &self,
        mut request: Request<pb::CreateRiskEntryRequest>,
    ) -> Result<Response<pb::RiskEntry>, Status> {
        normalize_text("CreateRiskEntryRequest", request.get_mut());
        let r = request.get_ref();
        let mut v = Violations::new();
        let id = all(&mut v, Id::parse("risk_id", &r.risk_id));
        let request_id = all(&mut v, crate::domain::request_id(&r.request_id));
        let spec = match &r.risk {
            Some(risk) => all(&mut v, RiskSpec::from_proto("risk", risk)),
            None => {
                v.add("risk", "is required");
                None
            }
        };
        let (Some(id), Some(spec), true) = (id, spec, v.is_empty()) else {
            return Err(Error::InvalidArgument(v.into_vec()).into());
        };
        let ctx = write_ctx(&request, request_id.flatten(), r.validate_only);
        let risk = self.store.create_resource::<RiskEntry>(&id, spec, &ctx).await?;
        Ok(Response::new(risk.to_proto()))
    }
}
