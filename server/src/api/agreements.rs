//! `motie.registry.v1.TradeAgreementService`: the standard methods of `agreements/{agreement}`.

use registry_proto::v1::{self as pb, trade_agreement_service_server::TradeAgreementService};

use super::resource;
use crate::domain::agreement::TradeAgreement;

service_api!(
    /// The TradeAgreementService implementation.
    AgreementsApi
);

resource::resource_service! {
    impl TradeAgreementService for AgreementsApi {
        resource TradeAgreement;
        get_trade_agreement(GetTradeAgreementRequest);
        list_trade_agreements(ListTradeAgreementsRequest) -> ListTradeAgreementsResponse { trade_agreements };
        batch_get_trade_agreements(BatchGetTradeAgreementsRequest) -> BatchGetTradeAgreementsResponse { trade_agreements };
        update_trade_agreement(UpdateTradeAgreementRequest) { trade_agreement };
        delete_trade_agreement(DeleteTradeAgreementRequest);
        undelete_trade_agreement(UndeleteTradeAgreementRequest);
        create create_trade_agreement(CreateTradeAgreementRequest) { trade_agreement_id };
    }

}
