//! The demo district's legal advisers (法律顾问): one hired by each of 27
//! units (departments on the duty lists) and one by every community,
//! registered through the mediation service.

use flatgov_proto::mediation::v1::{Adviser, CreateAdviserRequest};

use crate::connect::{CallContext as _, Session};
use crate::demo::{Progress, demo_id, synthetic_name, synthetic_phone};

/// The 27 units that hire a legal adviser: the district's departments on
/// the duty lists, without the vertically managed ones (taxation, the
/// people's armed forces) and the utilities.
const UNITS: [&str; 27] = [
    "organisation_department",
    "urban_management",
    "market_supervision",
    "public_security",
    "housing_construction",
    "civil_affairs",
    "human_resources_social_security",
    "health",
    "emergency_management",
    "ecology_environment",
    "natural_resources",
    "transport",
    "water_affairs",
    "education",
    "culture_tourism",
    "medical_insurance",
    "judicial",
    "fire_rescue",
    "veterans_affairs",
    "statistics",
    "petition",
    "ethnic_religious",
    "development_reform",
    "commerce",
    "finance",
    "agriculture_rural",
    "disabled_persons_federation",
];

pub async fn load(
    session: &Session,
    communities: &[String],
    progress: &Progress,
) -> anyhow::Result<()> {
    let mut mediation = session.mediation()?;
    progress.step("mediation: legal advisers for 27 units and every community");
    // Request ids are derived from whom the adviser serves, so a second
    // load returns the same advisers instead of adding more.
    for (index, unit) in UNITS.iter().enumerate() {
        let seed = 70_000 + index as u64;
        mediation
            .create_adviser(CreateAdviserRequest {
                request_id: demo_id(&format!("adviser/unit/{unit}")),
                adviser: Some(Adviser {
                    display_name: synthetic_name(seed),
                    phone: synthetic_phone(seed),
                    unit: (*unit).to_owned(),
                    ..Default::default()
                }),
            })
            .await
            .doing(&format!("registering the legal adviser of {unit}"))?;
    }
    for community in communities {
        let seed = 80_000 ^ community.parse::<u64>().unwrap_or(0);
        mediation
            .create_adviser(CreateAdviserRequest {
                request_id: demo_id(&format!("adviser/community/{community}")),
                adviser: Some(Adviser {
                    display_name: synthetic_name(seed),
                    phone: synthetic_phone(seed),
                    community_code: community.clone(),
                    ..Default::default()
                }),
            })
            .await
            .doing(&format!("registering the legal adviser of {community}"))?;
    }
    progress.note(format!(
        "{} unit advisers, {} community advisers",
        UNITS.len(),
        communities.len()
    ));
    Ok(())
}
