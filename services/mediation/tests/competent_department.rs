//! Administrative mediation goes to the competent department the real duty
//! lists service names for the dispute's type when the caller names none,
//! and to the subdistrict's justice office when the lists name none.

mod support;

use flatgov_proto::duties::v1 as duties;
use flatgov_proto::duties::v1::duty_lists_client::DutyListsClient;
use flatgov_proto::mediation::v1 as proto;
use flatgov_proto::mediation::v1::mediation_client::MediationClient;
use flatgov_testkit::{TestDatabase, TestEnv, with_token};
use support::{COMMUNITY, SUBDISTRICT, neighbour_noise, party};

const DEPARTMENTS: &str = include_str!("../../duties/data/reference/departments.csv");
const MATTERS: &str = include_str!("../../duties/data/reference/matters.csv");
const LISTS: [(&str, &str); 5] = [
    (
        "lists/subdistrict_duty",
        include_str!("../../duties/data/reference/subdistrict_duty.csv"),
    ),
    (
        "lists/subdistrict_cooperation",
        include_str!("../../duties/data/reference/subdistrict_cooperation.csv"),
    ),
    (
        "lists/residents_self_government",
        include_str!("../../duties/data/reference/residents_self_government.csv"),
    ),
    (
        "lists/residents_assisting",
        include_str!("../../duties/data/reference/residents_assisting.csv"),
    ),
    (
        "lists/residents_negative",
        include_str!("../../duties/data/reference/residents_negative.csv"),
    ),
];

/// The duty lists service on its own database, with the reference
/// district's departments, lists and catalogue loaded the way the demo
/// loader does.
async fn start_duties(test: &TestEnv, database: &TestDatabase) -> flatgov_grpc::Application {
    let application = flatgov_duties::build(test.env_for_database(database.url()))
        .await
        .expect("duties starts");
    let mut client = DutyListsClient::connect(application.grpc_url())
        .await
        .expect("connect to duties");
    let admin = test.auth.admin_token();
    client
        .import_departments(with_token(
            duties::ImportDepartmentsRequest {
                format: duties::DataFormat::Csv as i32,
                content: DEPARTMENTS.into(),
            },
            &admin,
        ))
        .await
        .expect("departments import");
    for (list, csv) in LISTS {
        client
            .import_list(with_token(
                duties::ImportListRequest {
                    parent: list.into(),
                    format: duties::DataFormat::Csv as i32,
                    content: csv.into(),
                    publish: true,
                    effective_from: None,
                },
                &admin,
            ))
            .await
            .unwrap_or_else(|status| panic!("{list} imports: {status:?}"));
    }
    client
        .import_catalogue(with_token(
            duties::ImportCatalogueRequest {
                format: duties::DataFormat::Csv as i32,
                content: MATTERS.into(),
            },
            &admin,
        ))
        .await
        .expect("catalogue import");
    application
}

fn dispatcher(test: &TestEnv) -> String {
    test.auth.token_for(
        flatgov_auth::TokenRequest::new(
            "dispatcher-1",
            &[flatgov_auth::Role::SubdistrictDispatcher],
        )
        .jurisdiction(format!("subdistricts/{SUBDISTRICT}").parse().unwrap()),
    )
}

fn administrative(kind: proto::DisputeType, summary: &str) -> proto::RegisterDisputeRequest {
    let mut request = neighbour_noise();
    let dispute = request.dispute.as_mut().unwrap();
    dispute.r#type = kind as i32;
    dispute.case = String::new();
    dispute.summary = summary.into();
    dispute.parties = vec![
        party(proto::PartyRole::Applicant, "周敏", "13600136000"),
        party(proto::PartyRole::Respondent, "吴刚", "13600136001"),
    ];
    request.first_level = proto::MediationLevel::Administrative as i32;
    request
}

fn current(dispute: &proto::Dispute) -> &proto::Stage {
    dispute.stages.last().expect("a stage")
}

#[tokio::test]
async fn administrative_mediation_goes_to_the_department_the_duty_lists_name() {
    let test = TestEnv::new();
    let duties_database = TestDatabase::new();
    let duties = start_duties(&test, &duties_database).await;
    let env = test
        .service_env("mediation")
        .with("DUTIES_URL", duties.grpc_url());
    let application = flatgov_mediation::build(env)
        .await
        .expect("mediation starts");
    let mut client = MediationClient::connect(application.grpc_url())
        .await
        .expect("connect");
    let dispatcher = dispatcher(&test);

    // Unpaid wages: the lists make the human-resources bureau lead.
    let wages = client
        .register_dispute(with_token(
            administrative(proto::DisputeType::Wages, "某餐馆拖欠服务员两个月工资"),
            &dispatcher,
        ))
        .await
        .expect("wage dispute registered")
        .into_inner();
    assert_eq!(
        current(&wages).organisation,
        "human_resources_social_security"
    );

    // A land and housing dispute has no matter on the lists: the justice
    // office mediates.
    let land = client
        .register_dispute(with_token(
            administrative(proto::DisputeType::LandAndHousing, "宅基地边界争议"),
            &dispatcher,
        ))
        .await
        .expect("land dispute registered")
        .into_inner();
    assert_eq!(current(&land).organisation, "justice_office_430302001");

    // A named department is taken as named.
    let mut named = administrative(proto::DisputeType::Wages, "装修工人工资纠纷");
    named.organisation = "housing_construction".into();
    let named = client
        .register_dispute(with_token(named, &dispatcher))
        .await
        .expect("named department registered")
        .into_inner();
    assert_eq!(current(&named).organisation, "housing_construction");

    // A consumer dispute handed over from the community's committee with no
    // department named goes to market supervision, which the lists name.
    let mut consumer = administrative(proto::DisputeType::Consumer, "购买的洗衣机多次维修无果");
    consumer.first_level = proto::MediationLevel::Peoples as i32;
    let consumer = client
        .register_dispute(with_token(consumer, &dispatcher))
        .await
        .expect("consumer dispute registered")
        .into_inner();
    let handed = client
        .hand_over_dispute(with_token(
            proto::HandOverDisputeRequest {
                dispute: consumer.name.clone(),
                to_level: proto::MediationLevel::Administrative as i32,
                organisation: String::new(),
                reason: "商家拒绝社区调解".into(),
            },
            &dispatcher,
        ))
        .await
        .expect("handed over")
        .into_inner();
    assert_eq!(current(&handed).organisation, "market_supervision");

    // Neighbour disputes are the justice bureau's on the lists, which
    // mediates through the subdistrict's justice office.
    let mut neighbour = neighbour_noise();
    neighbour.first_level = proto::MediationLevel::Administrative as i32;
    neighbour.dispute.as_mut().unwrap().case = String::new();
    let neighbour = client
        .register_dispute(with_token(neighbour, &dispatcher))
        .await
        .expect("neighbour dispute registered")
        .into_inner();
    assert_eq!(current(&neighbour).organisation, "justice_office_430302001");
    assert_eq!(neighbour.community_code, COMMUNITY);
}
