//! The demo district's catalogue of convenience matters (便民事项): the
//! twelve matters of the errands service's reference catalogue, published
//! once through the errands API (a derived request id makes a second load
//! return the same version).

use flatgov_proto::errands::v1::PublishCatalogueRequest;

use crate::connect::{CallContext as _, Session};
use crate::demo::{Progress, demo_id};

pub async fn load(session: &Session, progress: &Progress) -> anyhow::Result<()> {
    let mut errands = session.errands()?;
    progress.step("errands: the catalogue of convenience matters");
    let matters = flatgov_demo::errands::demo_catalogue();
    let count = matters.len();
    let catalogue = errands
        .publish_catalogue(PublishCatalogueRequest {
            matters,
            request_id: demo_id("errands/catalogue/reference-1"),
        })
        .await
        .doing("publishing the catalogue of convenience matters")?;
    progress.note(format!(
        "{count} matters, catalogue version {}",
        catalogue.version
    ));
    Ok(())
}
