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
        resource TradeAgreement / TradeAgreements { trade_agreement / trade_agreements };
        create;
    }

}
