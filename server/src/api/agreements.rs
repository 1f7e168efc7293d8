//! `motie.registry.v1.TradeAgreementService`: the standard methods of `agreements/{agreement}`.

use registry_proto::v1::{self as pb, trade_agreement_service_server::TradeAgreementService};
use tonic::{Request, Response, Status};

use super::{all, resource, write_ctx};
use crate::{
    domain::{
        Error, Id, Violations,
        agreement::{AgreementSpec, TradeAgreement},
    },
    store::Store,
};

/// The TradeAgreementService implementation.
#[derive(Debug, Clone)]
pub struct AgreementsApi {
    store: Store,
}

impl AgreementsApi {
    pub fn new(store: Store) -> Self {
        AgreementsApi { store }
    }
}

resource::resource_service! {
    impl TradeAgreementService for AgreementsApi {
        resource TradeAgreement;
        get_trade_agreement(GetTradeAgreementRequest);
        list_trade_agreements(ListTradeAgreementsRequest) -> ListTradeAgreementsResponse { trade_agreements };
        batch_get_trade_agreements(BatchGetTradeAgreementsRequest) -> BatchGetTradeAgreementsResponse { trade_agreements };
        update_trade_agreement(UpdateTradeAgreementRequest) { trade_agreement };
        delete_trade_agreement(DeleteTradeAgreementRequest);
        undelete_trade_agreement(UndeleteTradeAgreementRequest);
    }

    async fn create_trade_agreement(
        &self,
        request: Request<pb::CreateTradeAgreementRequest>,
    ) -> Result<Response<pb::TradeAgreement>, Status> {
        let r = request.get_ref();
        let mut v = Violations::new();
        let id = all(&mut v, Id::parse("trade_agreement_id", &r.trade_agreement_id));
        let request_id = all(&mut v, crate::domain::request_id(&r.request_id));
        let spec = match &r.trade_agreement {
            Some(a) => all(&mut v, AgreementSpec::from_proto("trade_agreement", a)),
            None => {
                v.add("trade_agreement", "is required");
                None
            }
        };
        let (Some(id), Some(spec), true) = (id, spec, v.is_empty()) else {
            return Err(Error::InvalidArgument(v.into_vec()).into());
        };
        let ctx = write_ctx(&request, request_id.flatten(), r.validate_only);
        let created = self.store.create_resource::<TradeAgreement>(&id, spec, &ctx).await?;
        Ok(Response::new(created.to_proto()))
    }
}
