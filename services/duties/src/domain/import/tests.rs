use super::*;
use crate::domain::list::tests::departments;

const HEADER: &str = "code,category,category_en,name,name_en,description,legal_basis,handling_level,lead_department,cooperating_departments,default_tier,response_limit,resolution_limit";

fn csv(rows: &[&str]) -> String {
    let mut text = HEADER.to_owned();
    for row in rows {
        text.push('\n');
        text.push_str(row);
    }
    text
}

const STREET_LIGHT: &str = "SD-05-03,城市管理,City management,市政设施巡查报修,Municipal facility patrol,\"发现路灯、井盖损坏, 及时上报\",《城市道路管理条例》,block,housing_construction,urban_management,front_line,2h,3d";
const VENDING: &str = "SD-05-02,城市管理,City management,占道经营劝导,Discouraging street vending,,《城市市容和环境卫生管理条例》,block,,urban_management,front_line,30m,1d";

fn problems(error: ImportError) -> Vec<String> {
    error.problems.iter().map(ToString::to_string).collect()
}

#[test]
fn a_well_formed_csv_list_imports_every_item() {
    let content = list_from_csv(
        ListKind::SubdistrictDuty,
        &csv(&[STREET_LIGHT, VENDING]),
        &departments(),
    )
    .unwrap();
    assert_eq!(content.len(), 2);
    let light = content.item(&ItemCode::parse("SD-05-03").unwrap()).unwrap();
    assert_eq!(light.fields().description, "发现路灯、井盖损坏, 及时上报");
    assert_eq!(
        light.lead_department().map(DepartmentCode::as_str),
        Some("housing_construction")
    );
    assert_eq!(light.response_limit().to_string(), "2h");
}

#[test]
fn csv_columns_may_come_in_any_order_and_optional_ones_may_be_left_out() {
    let text = "resolution_limit,response_limit,default_tier,handling_level,legal_basis,name,category,code\n\
                3d,2h,front_line,block,《城市道路管理条例》,市政设施巡查报修,城市管理,SD-05-03";
    let content = list_from_csv(ListKind::SubdistrictDuty, text, &departments()).unwrap();
    let item = content.item(&ItemCode::parse("SD-05-03").unwrap()).unwrap();
    assert_eq!(item.fields().name_en, None);
    assert!(item.cooperating_departments().is_empty());
}

#[test]
fn a_byte_order_mark_and_padding_around_values_are_ignored() {
    let text = format!(
        "\u{feff}{}",
        csv(&[
            " SD-05-02 , 城市管理 ,,占道经营劝导,,, 《条例》 , block ,, urban_management ; ,front_line, 30m ,1d"
        ])
    );
    let content = list_from_csv(ListKind::SubdistrictDuty, &text, &departments()).unwrap();
    let item = content.item(&ItemCode::parse("SD-05-02").unwrap()).unwrap();
    assert_eq!(item.category(), "城市管理");
    assert_eq!(item.cooperating_departments().len(), 1);
}

#[test]
fn a_malformed_value_is_named_by_row_and_column() {
    let bad_limit = VENDING.replace(",30m,", ",30 minutes,");
    let error = list_from_csv(
        ListKind::SubdistrictDuty,
        &csv(&[STREET_LIGHT, &bad_limit]),
        &departments(),
    )
    .unwrap_err();
    assert_eq!(error.problems.len(), 1);
    assert_eq!(
        error.problems[0].location,
        SourceLocation::Cell {
            row: 3,
            column: "response_limit".into()
        }
    );
    assert!(
        error
            .to_string()
            .contains("row 3, column \"response_limit\": time limit \"30 minutes\" is malformed")
    );
}

#[test]
fn every_problem_in_a_csv_list_is_collected_and_nothing_is_returned() {
    let rows = [
        STREET_LIGHT.replace("SD-05-03", "SD-5-3"),
        VENDING
            .replace(",block,", ",district,")
            .replace("front_line", "frontline"),
        STREET_LIGHT.replace("urban_management", "urban_mgmt"),
        STREET_LIGHT.to_owned(),
        VENDING.replace("《城市市容和环境卫生管理条例》", ""),
    ];
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    let error = list_from_csv(ListKind::SubdistrictDuty, &csv(&rows), &departments()).unwrap_err();
    assert_eq!(
        problems(error),
        [
            "row 2, column \"code\": item code \"SD-5-3\" is malformed: expected <PREFIX>-<CC>-<NN> such as SD-01-03",
            "row 3, column \"handling_level\": handling level \"district\" is not one of: block, community, subdistrict, department",
            "row 3, column \"default_tier\": tier \"frontline\" is not one of: front_line, coordination_meeting, whistle",
            "row 4, column \"cooperating_departments\": unknown department urban_mgmt",
            "row 5, column \"code\": duplicate item code SD-05-03 (first given as item 1)",
            "row 6, column \"legal_basis\": a value is required",
        ]
    );
}

#[test]
fn a_missing_required_column_is_reported_once_at_the_header() {
    let text = "code,category,name,legal_basis,handling_level,default_tier,response_limit\n\
                SD-05-03,城市管理,巡查,《条例》,block,front_line,2h\n\
                SD-05-04,城市管理,巡查,《条例》,block,front_line,2h";
    let error = list_from_csv(ListKind::SubdistrictDuty, text, &departments()).unwrap_err();
    assert_eq!(
        problems(error),
        ["row 1: required column \"resolution_limit\" is missing"]
    );
}

#[test]
fn unknown_and_repeated_columns_are_refused() {
    let text = format!("{HEADER},lead_departmnet,name\n{},x,y", STREET_LIGHT);
    let error = list_from_csv(ListKind::SubdistrictDuty, &text, &departments()).unwrap_err();
    assert_eq!(
        problems(error),
        [
            "row 1, column \"lead_departmnet\": unknown column \"lead_departmnet\"",
            "row 1, column \"name\": column \"name\" appears more than once",
        ]
    );
}

#[test]
fn a_row_with_the_wrong_number_of_fields_is_refused_with_its_row() {
    let text = csv(&[STREET_LIGHT, "SD-05-02,城市管理"]);
    let error = list_from_csv(ListKind::SubdistrictDuty, &text, &departments()).unwrap_err();
    assert_eq!(
        problems(error),
        ["row 3: expected 13 fields as in the header, found 2"]
    );
}

#[test]
fn rows_are_numbered_as_lines_of_the_file_counting_blank_lines() {
    let text = format!(
        "{HEADER}\n\n{STREET_LIGHT}\n\n{}",
        VENDING.replace("30m", "0m")
    );
    let error = list_from_csv(ListKind::SubdistrictDuty, &text, &departments()).unwrap_err();
    assert!(matches!(
        &error.problems[0].location,
        SourceLocation::Cell { row: 5, .. }
    ));
}

#[test]
fn an_empty_csv_has_no_header() {
    let error = list_from_csv(ListKind::SubdistrictDuty, "", &departments()).unwrap_err();
    assert_eq!(
        problems(error),
        ["document: the file is empty: expected a header row"]
    );
}

#[test]
fn a_header_without_rows_is_an_empty_list() {
    let content = list_from_csv(ListKind::SubdistrictDuty, HEADER, &departments()).unwrap();
    assert!(content.is_empty());
}

#[test]
fn an_item_of_another_list_and_a_level_the_list_forbids_are_refused_at_their_columns() {
    let wrong_list = STREET_LIGHT.replace("SD-05-03", "RS-01-01");
    let error = list_from_csv(
        ListKind::SubdistrictDuty,
        &csv(&[&wrong_list]),
        &departments(),
    )
    .unwrap_err();
    assert_eq!(
        problems(error),
        [
            "row 2, column \"code\": item code RS-01-01 belongs to the residents_self_government list, not the subdistrict_duty list"
        ]
    );
    let subdistrict_led_cooperation = STREET_LIGHT
        .replace("SD-05-03", "SC-05-03")
        .replace(",block,", ",subdistrict,");
    let error = list_from_csv(
        ListKind::SubdistrictCooperation,
        &csv(&[&subdistrict_led_cooperation]),
        &departments(),
    )
    .unwrap_err();
    assert_eq!(
        problems(error),
        [
            "row 2, column \"handling_level\": handling level subdistrict is not allowed on the subdistrict_cooperation list (allowed: department)"
        ]
    );
}

#[test]
fn a_department_level_item_without_a_lead_is_refused_at_the_lead_column() {
    let leaderless = VENDING
        .replace("SD-05-02", "SC-05-02")
        .replace(",block,", ",department,");
    let error = list_from_csv(
        ListKind::SubdistrictCooperation,
        &csv(&[&leaderless]),
        &departments(),
    )
    .unwrap_err();
    assert_eq!(
        problems(error),
        [
            "row 2, column \"lead_department\": an item handled at department level needs a lead department"
        ]
    );
}

fn json_item(code: &str) -> serde_json::Value {
    serde_json::json!({
        "code": code,
        "category": "城市管理执法",
        "category_en": "Urban management enforcement",
        "name": "违法建设查处",
        "legal_basis": "《中华人民共和国城乡规划法》",
        "handling_level": "department",
        "lead_department": "urban_management",
        "cooperating_departments": ["natural_resources", "housing_construction"],
        "default_tier": "whistle",
        "response_limit": "2h",
        "resolution_limit": "15d",
    })
}

#[test]
fn a_well_formed_json_list_imports_every_item() {
    let document = serde_json::json!({
        "kind": "subdistrict_cooperation",
        "items": [json_item("SC-01-01"), json_item("SC-01-02")],
    });
    let content = list_from_json(
        ListKind::SubdistrictCooperation,
        &document.to_string(),
        &departments(),
    )
    .unwrap();
    assert_eq!(content.len(), 2);
    assert_eq!(
        content
            .item(&ItemCode::parse("SC-01-01").unwrap())
            .unwrap()
            .cooperating_departments()
            .len(),
        2
    );
}

#[test]
fn json_problems_are_located_by_path_and_all_collected() {
    let mut wrong_types = json_item("SC-01-02");
    wrong_types["response_limit"] = serde_json::json!(2);
    wrong_types["cooperating_departments"] = serde_json::json!("natural_resources");
    wrong_types["leader"] = serde_json::json!("x");
    let mut missing = json_item("SC-01-03");
    missing.as_object_mut().unwrap().remove("name");
    missing["lead_department"] = serde_json::Value::Null;
    let document = serde_json::json!({
        "kind": "subdistrict_cooperation",
        "version": 2,
        "items": [json_item("SC-01-01"), wrong_types, missing, json_item("SC-01-01"), "SC-01-04"],
    });
    let error = list_from_json(
        ListKind::SubdistrictCooperation,
        &document.to_string(),
        &departments(),
    )
    .unwrap_err();
    assert_eq!(
        problems(error),
        [
            "version: unknown field",
            "items[1].cooperating_departments: expected an array of strings",
            "items[1].leader: unknown field",
            "items[1].response_limit: expected a string",
            "items[2].name: a value is required",
            "items[3].code: duplicate item code SC-01-01 (first given as item 1)",
            "items[4]: expected an object",
        ]
    );
}

#[test]
fn a_json_document_of_another_list_is_refused() {
    let document = serde_json::json!({"kind": "residents_negative", "items": []});
    let error = list_from_json(
        ListKind::SubdistrictDuty,
        &document.to_string(),
        &departments(),
    )
    .unwrap_err();
    assert_eq!(
        problems(error),
        [
            "kind: the document is a residents_negative list, but a subdistrict_duty list was requested"
        ]
    );
    let untyped = serde_json::json!({"items": []});
    let error = list_from_json(
        ListKind::SubdistrictDuty,
        &untyped.to_string(),
        &departments(),
    )
    .unwrap_err();
    assert_eq!(problems(error), ["kind: a value is required"]);
}

#[test]
fn malformed_json_is_reported_with_its_line_and_column() {
    let error = list_from_json(
        ListKind::SubdistrictDuty,
        "{\n  \"kind\": ,\n}",
        &departments(),
    )
    .unwrap_err();
    assert_eq!(error.problems.len(), 1);
    let message = error.problems[0].to_string();
    assert!(
        message.starts_with("document: malformed JSON:"),
        "{message}"
    );
    assert!(message.contains("line 2"), "{message}");
    let error = list_from_json(ListKind::SubdistrictDuty, "[]", &departments()).unwrap_err();
    assert_eq!(problems(error), ["document: expected a JSON object"]);
}

#[test]
fn a_list_survives_a_round_trip_through_csv_and_json() {
    let content = list_from_csv(
        ListKind::SubdistrictDuty,
        &csv(&[STREET_LIGHT, VENDING]),
        &departments(),
    )
    .unwrap();
    let from_csv = list_from_csv(
        ListKind::SubdistrictDuty,
        &list_to_csv(&content),
        &departments(),
    )
    .unwrap();
    assert_eq!(from_csv, content);
    let from_json = list_from_json(
        ListKind::SubdistrictDuty,
        &list_to_json(&content),
        &departments(),
    )
    .unwrap();
    assert_eq!(from_json, content);
}

#[test]
fn departments_import_from_csv_and_json_refusing_duplicates_by_row() {
    let departments =
        departments_from_csv("code,name,name_en\nhealth,区卫生健康局,Health\njudicial,区司法局,")
            .unwrap();
    assert_eq!(departments.len(), 2);
    let error =
        departments_from_csv("code,name\nhealth,区卫生健康局\nHealth,卫健\nhealth,卫健\njudicial,")
            .unwrap_err();
    assert_eq!(
        problems(error),
        [
            "row 3, column \"code\": department code \"Health\" is malformed: expected lower-case letters, digits and single underscores, starting with a letter (e.g. urban_management)",
            "row 4, column \"code\": department code health appears more than once",
            "row 5, column \"name\": a value is required",
        ]
    );
    let json =
        departments_from_json(r#"{"departments": [{"code": "health", "name": "区卫生健康局"}]}"#)
            .unwrap();
    assert!(json.contains(&DepartmentCode::parse("health").unwrap()));
}

fn known(codes: &[&str]) -> BTreeSet<ItemCode> {
    codes
        .iter()
        .map(|code| ItemCode::parse(code).unwrap())
        .collect()
}

#[test]
fn a_catalogue_imports_matters_with_their_optional_tier() {
    let text = "code,name,name_en,item,tier\n\
                broken_street_light,路灯损坏,Broken street light,SD-05-03,\n\
                neighbour_noise,邻里噪声,Noise from neighbours,SC-03-01,front_line";
    let catalogue = catalogue_from_csv(text, &known(&["SD-05-03", "SC-03-01"])).unwrap();
    let noise = catalogue
        .get(&MatterCode::parse("neighbour_noise").unwrap())
        .unwrap();
    assert_eq!(noise.tier(), Some(Tier::FrontLine));
    assert_eq!(
        catalogue
            .get(&MatterCode::parse("broken_street_light").unwrap())
            .unwrap()
            .tier(),
        None
    );
}

#[test]
fn a_matter_mapped_to_a_missing_item_is_refused_at_its_item_cell() {
    let text = "code,name,item\n\
                broken_street_light,路灯损坏,SD-05-03\n\
                illegal_construction,违法建设,SC-01-01\n\
                broken_street_light,路灯,SD-05-03\n\
                night_noise,噪声,SC-03-01,\n\
                garbage_overflow,垃圾满溢,SD-6-1";
    let error = catalogue_from_csv(text, &known(&["SD-05-03"])).unwrap_err();
    assert_eq!(
        problems(error),
        [
            "row 3, column \"item\": matter illegal_construction maps to item SC-01-01, which is on no list",
            "row 4, column \"code\": duplicate matter code broken_street_light (first given as matter 1)",
            "row 5: expected 3 fields as in the header, found 4",
            "row 6, column \"item\": item code \"SD-6-1\" is malformed: expected <PREFIX>-<CC>-<NN> such as SD-01-03",
        ]
    );
}

#[test]
fn a_catalogue_imports_from_json() {
    let text = r#"{"matters": [{"code": "night_noise", "name": "夜间噪声扰民", "item": "SC-03-01", "tier": "whistle"}]}"#;
    let catalogue = catalogue_from_json(text, &known(&["SC-03-01"])).unwrap();
    assert_eq!(catalogue.len(), 1);
    let error = catalogue_from_json(r#"{"matters": [{"code": "night_noise", "name": "噪声", "item": "SC-03-01", "tier": "loud"}]}"#, &known(&["SC-03-01"]))
        .unwrap_err();
    assert_eq!(
        problems(error),
        ["matters[0].tier: tier \"loud\" is not one of: front_line, coordination_meeting, whistle"]
    );
}

#[test]
fn an_import_error_says_how_many_problems_and_that_nothing_was_imported() {
    let error =
        catalogue_from_csv("code,name,item\nx,,SD-01-01", &known(&["SD-01-01"])).unwrap_err();
    assert_eq!(
        error.to_string(),
        "1 problem(s), nothing imported; row 2, column \"name\": a value is required"
    );
}
