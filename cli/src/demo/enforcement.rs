//! The demo district's enforcement forces: the three agencies (part of the
//! service's own data) each station a squad in every subdistrict, with
//! three synthetic officers per squad.

use flatgov_proto::enforcement::v1::{CreateOfficerRequest, CreateUnitRequest};

use crate::connect::{CallContext as _, Session};
use crate::demo::{DemoSubdistrict, Progress, demo_id, synthetic_name, synthetic_phone};

/// Agency code and the name of the squad it stations in a subdistrict.
const AGENCIES: [(&str, &str); 3] = [
    ("urban_management", "城管执法中队"),
    ("market_supervision", "市场监管所"),
    ("public_security", "派出所"),
];

const OFFICERS_PER_UNIT: usize = 3;

pub async fn load(
    session: &Session,
    subdistricts: &[DemoSubdistrict],
    progress: &Progress,
) -> anyhow::Result<()> {
    let mut enforcement = session.enforcement()?;
    progress.step("enforcement: units stationed in every subdistrict");
    let mut officers = 0;
    for (agency_index, (agency, squad)) in AGENCIES.iter().enumerate() {
        for subdistrict in subdistricts {
            let short_name = subdistrict.name.trim_end_matches("街道");
            // Request ids are derived from what is created, so a second
            // load returns the same units and officers instead of adding more.
            let unit = enforcement
                .create_unit(CreateUnitRequest {
                    parent: format!("agencies/{agency}"),
                    request_id: demo_id(&format!("unit/{agency}/{}", subdistrict.code)),
                    display_name: format!("{short_name}{squad}（示例）"),
                    stationed_subdistrict_code: subdistrict.code.clone(),
                    on_duty: true,
                    duty_desk: false,
                })
                .await
                .doing(&format!(
                    "creating the {agency} unit of {}",
                    subdistrict.code
                ))?;
            for number in 0..OFFICERS_PER_UNIT {
                let seed = (agency_index * 1000 + number) as u64
                    ^ subdistrict.code.parse::<u64>().unwrap_or(0);
                enforcement
                    .create_officer(CreateOfficerRequest {
                        parent: format!("agencies/{agency}"),
                        request_id: demo_id(&format!(
                            "officer/{agency}/{}/{number}",
                            subdistrict.code
                        )),
                        unit: unit.name.clone(),
                        display_name: synthetic_name(seed),
                        badge_number: format!(
                            "XT{}{:02}{:02}",
                            &subdistrict.code[6..],
                            agency_index + 1,
                            number + 1
                        ),
                        phone: synthetic_phone(seed),
                    })
                    .await
                    .doing(&format!(
                        "creating an officer of {agency} in {}",
                        subdistrict.code
                    ))?;
                officers += 1;
            }
        }
    }
    progress.note(format!(
        "{} units, {officers} officers",
        AGENCIES.len() * subdistricts.len()
    ));
    Ok(())
}
