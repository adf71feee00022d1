//! Stored rows as proto messages. `full` shows the resident, documents and
//! transitions (GetErrand and the writes, to those who reach the errand);
//! `summary` never does.

use flatgov_grpc::time::timestamp;
use flatgov_proto::errands::v1 as proto;

use crate::application::catalogue::StoredCatalogue;
use crate::application::indicators::Figures;
use crate::contract;
use crate::domain::catalogue::label;
use crate::domain::{
    CatalogueMatter, Channel, DecisionResult, ErrandState, TellingChannel, catalogue_name,
    errand_name, trips_saved,
};
use crate::error::Error;
use crate::store::{ErrandRow, StoredErrand};

fn corrupt(what: &str, value: &str) -> Error {
    Error::corrupt(format!("{what} {value:?}"))
}

fn state_of(word: &str) -> Result<i32, Error> {
    ErrandState::parse(word)
        .map(|state| contract::state(state) as i32)
        .ok_or_else(|| corrupt("errand state", word))
}

pub fn matter(matter: &CatalogueMatter, english: bool) -> proto::Matter {
    proto::Matter {
        name: format!("matters/{}", matter.code),
        code: matter.code.clone(),
        name_zh: matter.name_zh.clone(),
        name_en: matter.name_en.clone(),
        label: matter.label(english).to_owned(),
        deciding_department: matter.deciding_department.clone(),
        materials: matter
            .materials
            .iter()
            .map(|item| proto::Material {
                code: item.code.clone(),
                name_zh: item.name_zh.clone(),
                name_en: item.name_en.clone(),
                label: label(&item.name_zh, &item.name_en, english).to_owned(),
                required: item.required,
            })
            .collect(),
        proxy_allowed: matter.proxy_allowed,
        in_person_required: matter.in_person_required,
        statutory_limit_days: matter.statutory_limit_days,
        promised_limit_days: matter.promised_limit_days,
        fee_fen: matter.fee_fen,
        fee_note: matter.fee_note.clone(),
        usual_trips: matter.usual_trips,
    }
}

pub fn catalogue(stored: &StoredCatalogue, english: bool) -> proto::Catalogue {
    let version = u32::try_from(stored.catalogue.version).unwrap_or_default();
    proto::Catalogue {
        name: catalogue_name(version),
        version,
        matters: stored
            .matters
            .iter()
            .map(|item| matter(item, english))
            .collect(),
        publish_time: Some(timestamp(stored.catalogue.publish_time)),
    }
}

/// The errand without personal data.
pub fn summary(row: &ErrandRow) -> Result<proto::Errand, Error> {
    let channel = Channel::parse(&row.channel).ok_or_else(|| corrupt("channel", &row.channel))?;
    let result = match row.result.as_deref() {
        None => proto::Result::Unspecified as i32,
        Some(word) => DecisionResult::parse(word)
            .map(|result| contract::result(result) as i32)
            .ok_or_else(|| corrupt("result", word))?,
    };
    let told_by = match row.told_by.as_deref() {
        None => proto::TellingChannel::Unspecified as i32,
        Some(word) => TellingChannel::parse(word)
            .map(|channel| contract::telling_channel(channel) as i32)
            .ok_or_else(|| corrupt("telling channel", word))?,
    };
    Ok(proto::Errand {
        name: errand_name(row.id),
        matter: row.matter_code.clone(),
        catalogue_version: u32::try_from(row.catalogue_version).unwrap_or_default(),
        block_code: row.block_code.clone(),
        channel: contract::channel(channel) as i32,
        proxy: row.proxy,
        resident: None,
        state: state_of(&row.state)?,
        deciding_department: row.deciding_department.clone(),
        missing_materials: Vec::new(),
        documents: Vec::new(),
        notices: Vec::new(),
        result,
        // A refusal's reason may speak of the resident: only in `full`.
        refusal_reason: String::new(),
        returns: u32::try_from(row.returns).unwrap_or_default(),
        statutory_due: row.statutory_due.map(timestamp),
        promised_due: row.promised_due.map(timestamp),
        request_time: Some(timestamp(row.request_time)),
        submit_time: row.submit_time.map(timestamp),
        decide_time: row.decide_time.map(timestamp),
        told_time: row.told_time.map(timestamp),
        told_by,
        resident_trips: u32::try_from(row.resident_trips).unwrap_or_default(),
        trips_saved: 0,
        transitions: Vec::new(),
        handler: String::new(),
    })
}

/// The errand with everything recorded about it.
pub fn full(stored: &StoredErrand) -> Result<proto::Errand, Error> {
    let row = &stored.errand;
    let mut errand = summary(row)?;
    errand.resident = Some(proto::Resident {
        name: row.resident_name.clone(),
        phone: row.resident_phone.clone(),
        id_number: row.resident_id_number.clone().unwrap_or_default(),
        account: row.resident_account.clone().unwrap_or_default(),
    });
    errand.missing_materials = stored.missing();
    errand.documents = stored
        .documents
        .iter()
        .map(|document| proto::Document {
            material: document.material.clone(),
            reference: document.reference.clone(),
            collect_time: Some(timestamp(document.collect_time)),
            collected_by: document.collected_by.clone(),
        })
        .collect();
    errand.notices = stored
        .notices
        .iter()
        .map(|notice| proto::MissingMaterialsNotice {
            round: u32::try_from(notice.round).unwrap_or_default(),
            materials: notice.materials.clone(),
            notice_time: Some(timestamp(notice.notice_time)),
            noticed_by: notice.noticed_by.clone(),
        })
        .collect();
    errand.refusal_reason = row.refusal_reason.clone().unwrap_or_default();
    errand.trips_saved = trips_saved(
        stored.matter.usual_trips,
        u32::try_from(row.resident_trips).unwrap_or_default(),
    );
    errand.transitions = stored
        .transitions
        .iter()
        .map(|transition| {
            Ok(proto::Transition {
                number: u32::try_from(transition.number).unwrap_or_default(),
                action: transition.action.clone(),
                from_state: match transition.from_state.as_deref() {
                    None => proto::ErrandState::Unspecified as i32,
                    Some(word) => state_of(word)?,
                },
                to_state: state_of(&transition.to_state)?,
                actor: transition.actor.clone(),
                actor_role: transition.actor_role.clone(),
                time: Some(timestamp(transition.time)),
            })
        })
        .collect::<Result<_, Error>>()?;
    errand.handler = row.handler.clone();
    Ok(errand)
}

pub fn indicators(figures: &Figures) -> proto::Indicators {
    proto::Indicators {
        requested: figures.requested,
        by_matter_and_block: figures
            .by_matter_and_block
            .iter()
            .map(|((matter, block), errands)| proto::MatterBlockCount {
                matter: matter.clone(),
                block_code: block.clone(),
                errands: *errands,
            })
            .collect(),
        decided: figures.decided,
        within_promised_limit: figures.within_promised_limit,
        speed_up_rate: figures.speed_up_rate,
        mean_working_days_saved: figures.mean_working_days_saved,
        returns: figures.returns,
        errands_returned: figures.errands_returned,
        missing_material_notices: figures.missing_material_notices,
        trips_saved: figures.trips_saved,
        resident_trips: figures.resident_trips,
        departments: figures
            .departments
            .iter()
            .map(|department| proto::DepartmentIndicators {
                department: department.department.clone(),
                decisions: department.decisions,
                mean_working_hours_to_decide: department.mean_working_hours_to_decide,
            })
            .collect(),
    }
}
