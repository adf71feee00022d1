//! What several journeys do: report, watch a case, move the cases
//! service's clock, find the operation a whistle opened.

#![allow(dead_code)]

use std::time::Duration;

use flatgov_journeys::{PATIENCE, Platform, eventually, with_token};
use flatgov_proto::cases::v1 as cases;
use flatgov_proto::enforcement::v1 as enforcement;
use flatgov_proto::flatgov::r#type::v1::GeoPoint;

/// A resident who reports through the app: the account (token subject)
/// and the contact they leave, which must never reach an event.
pub struct Resident {
    pub account: String,
    pub name: String,
    pub phone: String,
}

impl Resident {
    pub fn new(account: &str, name: &str, phone: &str) -> Self {
        Self {
            account: account.to_owned(),
            name: name.to_owned(),
            phone: phone.to_owned(),
        }
    }

    pub fn contact(&self) -> cases::Contact {
        cases::Contact {
            name: self.name.clone(),
            phone: self.phone.clone(),
        }
    }
}

/// A report from the resident app at `point`.
pub fn app_report(
    resident: &Resident,
    matter_code: &str,
    point: GeoPoint,
    description: &str,
) -> cases::ReportCaseRequest {
    cases::ReportCaseRequest {
        request_id: format!("{}-{matter_code}", resident.account),
        kind: cases::CaseKind::Problem as i32,
        channel: cases::Channel::ResidentApp as i32,
        location: Some(point),
        block: String::new(),
        matter_code: matter_code.to_owned(),
        description: description.to_owned(),
        attachments: vec!["https://files.example.gov.cn/journey/photo.jpg".into()],
        reporter: Some(resident.contact()),
        anonymous: false,
        urgent: false,
    }
}

/// Sends a report as the resident and returns the new case.
pub async fn report(
    platform: &Platform,
    resident: &Resident,
    request: cases::ReportCaseRequest,
) -> cases::Case {
    let response = platform
        .cases()
        .report_case(with_token(request, &platform.resident(&resident.account)))
        .await
        .expect("the report is received")
        .into_inner();
    assert!(!response.me_too, "the report became a case of its own");
    response.case.expect("the new case")
}

pub fn state(case: &cases::Case) -> cases::CaseState {
    cases::CaseState::try_from(case.state).unwrap_or(cases::CaseState::Unspecified)
}

pub async fn get_case(platform: &Platform, name: &str) -> cases::Case {
    platform
        .cases()
        .get_case(with_token(
            cases::GetCaseRequest {
                name: name.to_owned(),
            },
            &platform.admin(),
        ))
        .await
        .unwrap_or_else(|status| panic!("GetCase {name}: {status}"))
        .into_inner()
}

/// Polls the case (as an administrator) until `check` holds; panics after
/// [`PATIENCE`] naming `what` and showing the case as it stands.
pub async fn case_until(
    platform: &Platform,
    name: &str,
    what: &str,
    check: impl Fn(&cases::Case) -> bool,
) -> cases::Case {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        // A restarted service may refuse for a moment: keep polling.
        let answer = platform
            .cases()
            .get_case(with_token(
                cases::GetCaseRequest {
                    name: name.to_owned(),
                },
                &platform.admin(),
            ))
            .await;
        let last = match answer {
            Ok(response) => {
                let case = response.into_inner();
                if check(&case) {
                    return case;
                }
                format!("{case:#?}")
            }
            Err(status) => format!("GetCase failed: {status}"),
        };
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {PATIENCE:?} waiting for {what}; the case is now:\n{last}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn history(platform: &Platform, name: &str) -> Vec<cases::CaseRecord> {
    platform
        .cases()
        .get_case_history(with_token(
            cases::GetCaseHistoryRequest {
                name: name.to_owned(),
            },
            &platform.admin(),
        ))
        .await
        .unwrap_or_else(|status| panic!("GetCaseHistory {name}: {status}"))
        .into_inner()
        .records
}

/// The actions of a case's history, oldest first.
pub async fn actions(platform: &Platform, name: &str) -> Vec<String> {
    history(platform, name)
        .await
        .into_iter()
        .map(|record| record.action)
        .collect()
}

/// Moves the cases service's clock forward by `days` (CASES_TEST_CONTROLS).
pub async fn advance_clock(platform: &Platform, days: i64) {
    platform
        .cases()
        .advance_test_clock(with_token(
            cases::AdvanceTestClockRequest {
                by: Some(prost_types::Duration {
                    seconds: days * 24 * 3600,
                    nanos: 0,
                }),
            },
            &platform.admin(),
        ))
        .await
        .expect("the test clock moves");
}

/// The joint operations opened for a case, as an administrator sees them.
pub async fn operations_of(platform: &Platform, case: &str) -> Vec<enforcement::Operation> {
    platform
        .enforcement()
        .list_operations(with_token(
            enforcement::ListOperationsRequest {
                case: case.to_owned(),
                page_size: 50,
                ..Default::default()
            },
            &platform.admin(),
        ))
        .await
        .map(|response| response.into_inner().operations)
        .unwrap_or_default()
}

/// Waits until the enforcement service has opened an operation for the
/// case with its agencies summoned, and returns it (with its actions).
pub async fn open_operation(platform: &Platform, case: &str) -> enforcement::Operation {
    let listed = eventually(
        "the enforcement service to open a joint operation for the case",
        PATIENCE,
        || async {
            operations_of(platform, case)
                .await
                .into_iter()
                .find(|operation| {
                    operation.state == enforcement::OperationState::Open as i32
                        && !operation.summons.is_empty()
                })
        },
    )
    .await;
    platform
        .enforcement()
        .get_operation(with_token(
            enforcement::GetOperationRequest {
                name: listed.name.clone(),
            },
            &platform.admin(),
        ))
        .await
        .expect("the operation")
        .into_inner()
}

/// An officer of `agency` stationed in the subdistrict (the demo stations
/// one squad of every agency in every subdistrict), and the squad.
pub async fn stationed_officer(
    platform: &Platform,
    agency: &str,
    subdistrict_code: &str,
) -> (enforcement::Officer, enforcement::EnforcementUnit) {
    let token = platform.officer(agency);
    let unit = platform
        .enforcement()
        .list_units(with_token(
            enforcement::ListUnitsRequest {
                parent: format!("agencies/{agency}"),
                stationed_subdistrict_code: subdistrict_code.to_owned(),
                page_size: 10,
                ..Default::default()
            },
            &token,
        ))
        .await
        .expect("the agency's units")
        .into_inner()
        .units
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("{agency} stations no unit in {subdistrict_code}"));
    let officer = platform
        .enforcement()
        .list_officers(with_token(
            enforcement::ListOfficersRequest {
                parent: format!("agencies/{agency}"),
                unit: unit.name.clone(),
                page_size: 10,
                ..Default::default()
            },
            &token,
        ))
        .await
        .expect("the unit's officers")
        .into_inner()
        .officers
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("{} has no officer", unit.name));
    (officer, unit)
}
