//! What the service publishes, each event enqueued in the transaction of the
//! change it reports (the chassis' relay publishes it), all about
//! `errands/{id}` so one errand's events keep their order (the catalogue's
//! about `catalogue/versions/{n}`). No event carries personal data: no
//! resident's name, phone, ID number or account, no document or reference,
//! no refusal's reason; missing materials are counted, never listed.
//!
//! The service consumes nothing.

use chrono::{DateTime, Utc};
use flatgov_grpc::time::timestamp;
use flatgov_proto::errands::v1 as proto;
use sqlx::PgConnection;

use crate::contract;
use crate::domain::{
    Channel, DecisionResult, TellingChannel, catalogue_name, errand_name, trips_saved,
};
use crate::store::{DatabaseContext as _, ErrandRow, NoticeRow, StoreError};

async fn enqueue<E: flatgov_messaging::Event>(
    connection: &mut PgConnection,
    errand: &ErrandRow,
    event: &E,
    context: &'static str,
) -> Result<(), StoreError> {
    flatgov_messaging::outbox::enqueue(connection, &errand_name(errand.id), event)
        .await
        .context(context)?;
    Ok(())
}

fn required_time(time: Option<DateTime<Utc>>, what: &str) -> Result<DateTime<Utc>, StoreError> {
    time.ok_or_else(|| StoreError::Corrupt(format!("an errand without its {what}")))
}

pub async fn catalogue_published(
    connection: &mut PgConnection,
    version: i32,
    matters: usize,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let version = u32::try_from(version).unwrap_or_default();
    let name = catalogue_name(version);
    let event = proto::CataloguePublished {
        catalogue: name.clone(),
        version,
        matters: u32::try_from(matters).unwrap_or_default(),
        published_at: Some(timestamp(at)),
    };
    flatgov_messaging::outbox::enqueue(connection, &name, &event)
        .await
        .context("publishing a catalogue version")?;
    Ok(())
}

pub async fn errand_requested(
    connection: &mut PgConnection,
    errand: &ErrandRow,
) -> Result<(), StoreError> {
    let channel = Channel::parse(&errand.channel)
        .ok_or_else(|| StoreError::Corrupt(format!("channel {:?}", errand.channel)))?;
    let event = proto::ErrandRequested {
        errand: errand_name(errand.id),
        matter: errand.matter_code.clone(),
        catalogue_version: u32::try_from(errand.catalogue_version).unwrap_or_default(),
        block_code: errand.block_code.clone(),
        subdistrict_code: errand.subdistrict_code.clone(),
        channel: contract::channel(channel) as i32,
        proxy: errand.proxy,
        deciding_department: errand.deciding_department.clone(),
        requested_at: Some(timestamp(errand.request_time)),
    };
    enqueue(connection, errand, &event, "publishing a request").await
}

pub async fn missing_materials_notified(
    connection: &mut PgConnection,
    errand: &ErrandRow,
    notice: &NoticeRow,
) -> Result<(), StoreError> {
    let event = proto::MissingMaterialsNotified {
        errand: errand_name(errand.id),
        matter: errand.matter_code.clone(),
        block_code: errand.block_code.clone(),
        round: u32::try_from(notice.round).unwrap_or_default(),
        missing: u32::try_from(notice.materials.len()).unwrap_or_default(),
        notified_at: Some(timestamp(notice.notice_time)),
    };
    enqueue(connection, errand, &event, "publishing a notice").await
}

pub async fn errand_submitted(
    connection: &mut PgConnection,
    errand: &ErrandRow,
) -> Result<(), StoreError> {
    let event = proto::ErrandSubmitted {
        errand: errand_name(errand.id),
        matter: errand.matter_code.clone(),
        block_code: errand.block_code.clone(),
        subdistrict_code: errand.subdistrict_code.clone(),
        deciding_department: errand.deciding_department.clone(),
        statutory_due: Some(timestamp(required_time(
            errand.statutory_due,
            "statutory due time",
        )?)),
        promised_due: Some(timestamp(required_time(
            errand.promised_due,
            "promised due time",
        )?)),
        submitted_at: Some(timestamp(required_time(errand.submit_time, "submit time")?)),
    };
    enqueue(connection, errand, &event, "publishing a submission").await
}

pub async fn errand_decided(
    connection: &mut PgConnection,
    errand: &ErrandRow,
    result: DecisionResult,
    materials_returned: usize,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let event = proto::ErrandDecided {
        errand: errand_name(errand.id),
        matter: errand.matter_code.clone(),
        block_code: errand.block_code.clone(),
        subdistrict_code: errand.subdistrict_code.clone(),
        deciding_department: errand.deciding_department.clone(),
        result: contract::result(result) as i32,
        materials_returned: u32::try_from(materials_returned).unwrap_or_default(),
        decided_at: Some(timestamp(at)),
    };
    enqueue(connection, errand, &event, "publishing a result").await
}

pub async fn errand_completed(
    connection: &mut PgConnection,
    errand: &ErrandRow,
    usual_trips: u32,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let result = errand
        .result
        .as_deref()
        .and_then(DecisionResult::parse)
        .ok_or_else(|| {
            StoreError::Corrupt(format!("errand {} told without a result", errand.id))
        })?;
    let told_by = errand
        .told_by
        .as_deref()
        .and_then(TellingChannel::parse)
        .ok_or_else(|| StoreError::Corrupt(format!("errand {} told by nothing", errand.id)))?;
    let event = proto::ErrandCompleted {
        errand: errand_name(errand.id),
        matter: errand.matter_code.clone(),
        block_code: errand.block_code.clone(),
        subdistrict_code: errand.subdistrict_code.clone(),
        result: contract::result(result) as i32,
        told_by: contract::telling_channel(told_by) as i32,
        trips_saved: trips_saved(
            usual_trips,
            u32::try_from(errand.resident_trips).unwrap_or_default(),
        ),
        completed_at: Some(timestamp(at)),
    };
    enqueue(connection, errand, &event, "publishing a completion").await
}
