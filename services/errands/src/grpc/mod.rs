//! Transport: `flatgov.errands.v1.Errands` on the chassis. The
//! authorization layer has already checked the caller's role against
//! [`crate::policy::POLICY`]; each handler parses the request into a
//! command (every field violation collected before any I/O), calls the use
//! case in [`crate::application`], and renders the answer.

mod catalogue;
mod errands;
mod indicators;
mod render;
mod test_clock;

use std::sync::Arc;

use flatgov_proto::errands::v1 as proto;
use flatgov_proto::errands::v1::errands_server::Errands as ErrandsApi;

use crate::application::Errands;

/// The `flatgov.errands.v1.Errands` server.
pub struct ErrandsService {
    /// What the use cases work with.
    pub(crate) errands: Arc<Errands>,
}

impl ErrandsService {
    pub fn new(errands: Arc<Errands>) -> Self {
        Self { errands }
    }
}

flatgov_grpc::dispatch! {
    impl ErrandsApi for ErrandsService {
        fn publish_catalogue(proto::PublishCatalogueRequest) -> proto::Catalogue => catalogue::publish_catalogue;
        fn get_catalogue(proto::GetCatalogueRequest) -> proto::Catalogue => catalogue::get_catalogue;
        fn request_errand(proto::RequestErrandRequest) -> proto::Errand => errands::request_errand;
        fn get_errand(proto::GetErrandRequest) -> proto::Errand => errands::get_errand;
        fn list_errands(proto::ListErrandsRequest) -> proto::ListErrandsResponse => errands::list_errands;
        fn collect_materials(proto::CollectMaterialsRequest) -> proto::Errand => errands::collect_materials;
        fn notify_missing_materials(proto::NotifyMissingMaterialsRequest) -> proto::Errand => errands::notify_missing_materials;
        fn submit_errand(proto::SubmitErrandRequest) -> proto::Errand => errands::submit_errand;
        fn record_result(proto::RecordResultRequest) -> proto::Errand => errands::record_result;
        fn record_resident_told(proto::RecordResidentToldRequest) -> proto::Errand => errands::record_resident_told;
        fn get_indicators(proto::GetIndicatorsRequest) -> proto::Indicators => indicators::get_indicators;
        fn advance_test_clock(proto::AdvanceTestClockRequest) -> proto::AdvanceTestClockResponse => test_clock::advance_test_clock;
    }
}
