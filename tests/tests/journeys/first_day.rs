//! Journey: a district's first day. On an empty platform, an administrator
//! runs the `flatgov` binary on the district's own files — subdistricts and
//! communities as CSV, their land as a GeoPackage in CGCS2000, blocks as
//! GeoJSON, the staff roster as an XLSX typed the way offices type it
//! (phone numbers in number cells), the 1+N+1 teams as CSV — each import a
//! dry run first, then applied. Bad files are refused at their row and
//! column, in Chinese by default and in English on request, changing
//! nothing: wrong columns, duplicate codes, a governor who is also the
//! supervisor, an unknown staff id, overlapping blocks, a projected CRS. A
//! re-import reports its rows unchanged. With the duty lists imported, the
//! first case reported at a point in a block is dispatched to the governor
//! the teams table gave that block.

use std::path::Path;

use flatgov_journeys::{Platform, with_token};
use flatgov_proto::blocks::v1 as blocks;
use flatgov_proto::flatgov::r#type::v1::GeoPoint;
use serde_json::json;

/// Runs the CLI and answers (success, stdout, stderr).
fn run(
    platform: &Platform,
    language: &str,
    directory: &Path,
    arguments: &[&str],
) -> (bool, String, String) {
    let output = platform.cli_in(language, &platform.admin(), directory, arguments);
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Runs the CLI in Chinese, failing the journey unless it succeeds.
fn ok(platform: &Platform, directory: &Path, arguments: &[&str]) -> String {
    let (success, stdout, stderr) = run(platform, "zh-CN", directory, arguments);
    assert!(success, "flatgov {arguments:?} failed:\n{stdout}\n{stderr}");
    stdout
}

/// Runs the CLI, failing the journey unless it is refused.
fn refused(platform: &Platform, language: &str, directory: &Path, arguments: &[&str]) -> String {
    let (success, stdout, stderr) = run(platform, language, directory, arguments);
    assert!(
        !success,
        "flatgov {arguments:?} should have been refused:\n{stdout}\n{stderr}"
    );
    format!("{stdout}\n{stderr}")
}

fn write(directory: &Path, name: &str, text: &str) {
    std::fs::write(directory.join(name), text).expect("writing a file");
}

/// A rectangle as a GeoJSON polygon ring, counter-clockwise.
fn rectangle(west: f64, south: f64, east: f64, north: f64) -> Vec<[f64; 2]> {
    vec![
        [west, south],
        [east, south],
        [east, north],
        [west, north],
        [west, south],
    ]
}

fn block_feature(code: &str, name: &str, ring: Vec<[f64; 2]>) -> serde_json::Value {
    json!({
        "type": "Feature",
        "properties": {"code": code, "name": name, "households": 350},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    })
}

/// The subdistrict's land as a GeoPackage in CGCS2000 (EPSG:4490), with
/// the Chinese attribute names a surveying office uses.
fn write_geopackage(file: &Path, ring: &[[f64; 2]]) {
    let connection = rusqlite::Connection::open(file).expect("creating the GeoPackage");
    connection
        .execute_batch(
            "CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, \
               organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL, \
               definition TEXT NOT NULL, description TEXT);
             INSERT INTO gpkg_spatial_ref_sys VALUES ('China Geodetic Coordinate System 2000', 4490, 'EPSG', 4490, 'GEOGCS[\"China Geodetic Coordinate System 2000\"]', NULL);
             CREATE TABLE gpkg_contents (table_name TEXT PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT, \
               description TEXT DEFAULT '', last_change DATETIME, min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER);
             INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id) VALUES ('街道边界', 'features', '街道边界', 4490);
             CREATE TABLE gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL, \
               geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL);
             INSERT INTO gpkg_geometry_columns VALUES ('街道边界', 'geom', 'POLYGON', 4490, 0, 0);
             CREATE TABLE \"街道边界\" (fid INTEGER PRIMARY KEY AUTOINCREMENT, geom BLOB, 街道编码 TEXT, 街道名称 TEXT, 英文名称 TEXT);",
        )
        .expect("the GeoPackage schema");
    // GeoPackage header (little-endian, no envelope), then a WKB polygon.
    let mut blob = b"GP\x00\x01".to_vec();
    blob.extend_from_slice(&4490_i32.to_le_bytes());
    blob.push(1);
    blob.extend_from_slice(&3_u32.to_le_bytes());
    blob.extend_from_slice(&1_u32.to_le_bytes());
    blob.extend_from_slice(&u32::try_from(ring.len()).expect("small").to_le_bytes());
    for [x, y] in ring {
        blob.extend_from_slice(&x.to_le_bytes());
        blob.extend_from_slice(&y.to_le_bytes());
    }
    connection
        .execute(
            "INSERT INTO \"街道边界\" (geom, 街道编码, 街道名称, 英文名称) \
             VALUES (?1, '430302001', '雨湖路街道', 'Yuhulu Subdistrict')",
            [blob],
        )
        .expect("the feature");
}

/// The staff roster as an office types it: Chinese headers with the
/// template's required marks, phone numbers in number cells.
fn write_staff_xlsx(file: &Path, people: &[(&str, &str, f64, &str)]) {
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet();
    for (column, header) in ["工号*", "姓名*", "手机号", "工作单位", "所属区划"]
        .iter()
        .enumerate()
    {
        sheet
            .write_string(0, u16::try_from(column).expect("few"), *header)
            .expect("header");
    }
    for (index, (id, name, phone, division)) in people.iter().enumerate() {
        let row = u32::try_from(index + 1).expect("few");
        sheet.write_string(row, 0, *id).expect("id");
        sheet.write_string(row, 1, *name).expect("name");
        sheet.write_number(row, 2, *phone).expect("phone");
        sheet
            .write_string(row, 3, "雨湖路街道办事处")
            .expect("unit");
        sheet.write_string(row, 4, *division).expect("division");
    }
    workbook.save(file).expect("saving the workbook");
}

async fn team_of(platform: &Platform, code: &str) -> Option<blocks::Team> {
    platform
        .blocks()
        .get_block(with_token(
            blocks::GetBlockRequest {
                name: format!("blocks/{code}"),
                ..Default::default()
            },
            &platform.admin(),
        ))
        .await
        .unwrap_or_else(|status| panic!("GetBlock {code}: {status}"))
        .into_inner()
        .team
}

#[tokio::test]
async fn journey_a_district_loads_its_own_files_through_the_cli_dry_run_first_and_bad_files_change_nothing()
 {
    let platform = Platform::start().await;
    let directory = tempfile::tempdir().expect("a working directory");
    let here = directory.path();

    // Templates for every table, read back by the import as tables of their kind.
    for kind in ["subdistricts", "communities", "staff", "teams"] {
        let out = ok(&platform, here, &["template", &format!("{kind}.xlsx")]);
        assert!(out.contains("模板"), "{out}");
        let (_, stdout, stderr) = run(
            &platform,
            "zh-CN",
            here,
            &["import", kind, &format!("{kind}.xlsx"), "--dry-run"],
        );
        let dry = format!("{stdout}\n{stderr}");
        assert!(
            !dry.contains("无法识别的列") && !dry.contains("缺少必填列"),
            "the {kind} template's own columns are accepted:\n{dry}"
        );
    }

    // Subdistricts: the district is registered on the way; a dry run first.
    write(
        here,
        "subdistricts.csv",
        "街道编码,街道名称,英文名称,所属区名称\n430302001,雨湖路街道,Yuhulu Subdistrict,雨湖区\n430302002,城正街街道,,雨湖区\n",
    );
    let dry = ok(
        &platform,
        here,
        &["import", "subdistricts", "subdistricts.csv", "--dry-run"],
    );
    assert!(dry.contains("将新建 2、更新 0、0 行不变"), "{dry}");
    assert!(dry.contains("将登记区：430302"), "{dry}");
    let applied = ok(
        &platform,
        here,
        &["import", "subdistricts", "subdistricts.csv", "--yes"],
    );
    assert!(applied.contains("新建 2、更新 0、不变 0"), "{applied}");

    // Their land: a projected CRS is refused by name, CGCS2000 accepted.
    let land = rectangle(112.90, 27.85, 112.92, 27.86);
    write(
        here,
        "land-gk.geojson",
        &json!({
            "type": "FeatureCollection",
            "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4549"}},
            "features": [{"type": "Feature", "properties": {"code": "430302001", "name": "雨湖路街道"},
                          "geometry": {"type": "Polygon", "coordinates": [rectangle(3_800_000.0, 500_000.0, 3_802_000.0, 501_000.0)]}}],
        })
        .to_string(),
    );
    let crs = refused(
        &platform,
        "zh-CN",
        here,
        &["import", "subdistricts", "land-gk.geojson"],
    );
    assert!(crs.contains("EPSG::4549"), "the CRS found is named:\n{crs}");
    write_geopackage(&here.join("land.gpkg"), &land);
    let imported = ok(&platform, here, &["import", "subdistricts", "land.gpkg"]);
    assert!(imported.contains("更新 1"), "{imported}");

    // Communities: a duplicate code and an unknown subdistrict, by row.
    write(
        here,
        "communities-bad.csv",
        "社区编码,社区名称\n430302001001,和平社区\n430302001001,和平社区\n430302009001,远方社区\n",
    );
    let bad = refused(
        &platform,
        "zh-CN",
        here,
        &["import", "communities", "communities-bad.csv", "--yes"],
    );
    assert!(bad.contains("与第 2 行重复"), "{bad}");
    assert!(bad.contains("街道 430302009 尚未登记"), "{bad}");
    assert!(bad.contains("未做任何更改"), "{bad}");
    eprintln!("what the administrator reads:\n{bad}");
    write(
        here,
        "communities.csv",
        "社区编码,社区名称,英文名称\n430302001001,和平社区,Heping\n",
    );
    // Without --yes and without a terminal the import cannot ask: nothing applied.
    let asked = refused(
        &platform,
        "zh-CN",
        here,
        &["import", "communities", "communities.csv"],
    );
    assert!(asked.contains("没有终端可以询问"), "{asked}");
    let applied = ok(
        &platform,
        here,
        &["import", "communities", "communities.csv", "--yes"],
    );
    assert!(applied.contains("新建 1"), "{applied}");

    // Staff from an XLSX; wrong columns are named before anything is read.
    write(
        here,
        "staff-columns.csv",
        "工号,电话,工作单位\nyhl-0001,13800138000,雨湖路街道办事处\n",
    );
    let columns = refused(
        &platform,
        "zh-CN",
        here,
        &["import", "staff", "staff-columns.csv", "--yes"],
    );
    assert!(columns.contains("缺少必填列“姓名”"), "{columns}");
    assert!(columns.contains("B (电话)"), "{columns}");
    assert!(columns.contains("无法识别的列"), "{columns}");
    let people = [
        ("yhl-0001", "张伟", 13_800_138_001.0, "430302001001"),
        ("yhl-0002", "李娜", 13_800_138_002.0, "430302001001"),
        ("yhl-0003", "王芳", 13_800_138_003.0, "430302001"),
        ("yhl-0004", "刘洋", 13_800_138_004.0, "430302001001"),
        ("yhl-0005", "陈静", 13_800_138_005.0, "430302001001"),
        ("yhl-0006", "杨磊", 13_800_138_006.0, "430302001"),
    ];
    write_staff_xlsx(&here.join("staff.xlsx"), &people);
    let dry = ok(
        &platform,
        here,
        &["import", "staff", "staff.xlsx", "--dry-run"],
    );
    assert!(dry.contains("6 行，未发现问题；将新建 6"), "{dry}");
    let applied = ok(&platform, here, &["import", "staff", "staff.xlsx", "--yes"]);
    assert!(applied.contains("新建 6、更新 0、不变 0"), "{applied}");

    // Blocks with their teams: a governor who is also the supervisor and an
    // unknown id are refused before anything is sent.
    let bad_teams = "区块编码,岗位,工号,协理员类型\n\
        430302001001001,治理员,yhl-0001,\n\
        430302001001001,协理员,yhl-0002,居民代表\n\
        430302001001001,监督员,yhl-0001,\n\
        430302001001002,治理员,yhl-9999,\n\
        430302001001002,监督员,yhl-0006,\n";
    write(here, "teams-bad.csv", bad_teams);
    let teams = "区块编码,岗位,工号,协理员类型\n\
        430302001001001,治理员,yhl-0001,\n\
        430302001001001,协理员,yhl-0002,居民代表\n\
        430302001001001,监督员,yhl-0003,\n\
        430302001001002,治理员,yhl-0004,\n\
        430302001001002,协理员,yhl-0005,联点干部\n\
        430302001001002,监督员,yhl-0006,\n";
    write(here, "teams.csv", teams);
    let halves = json!({"type": "FeatureCollection", "features": [
        block_feature("430302001001001", "和平第001区块", rectangle(112.90, 27.85, 112.91, 27.86)),
        block_feature("430302001001002", "和平第002区块", rectangle(112.91, 27.85, 112.92, 27.86)),
    ]});
    write(here, "blocks.geojson", &halves.to_string());
    let bad = refused(
        &platform,
        "zh-CN",
        here,
        &[
            "import",
            "blocks",
            "blocks.geojson",
            "--teams",
            "teams-bad.csv",
            "--yes",
        ],
    );
    assert!(
        bad.contains("yhl-0001 在区块 430302001001001 既是治理员（第 2 行）又是监督员"),
        "{bad}"
    );
    assert!(bad.contains("工号 yhl-9999 不在人员名册中"), "{bad}");
    assert!(bad.contains("试运行发现 2 个问题"), "{bad}");
    assert!(bad.contains("未做任何更改"), "{bad}");

    // Overlapping polygons are refused by the registry's validation.
    let overlapping = json!({"type": "FeatureCollection", "features": [
        block_feature("430302001001001", "和平第001区块", rectangle(112.90, 27.85, 112.91, 27.86)),
        block_feature("430302001001002", "和平第002区块", rectangle(112.905, 27.85, 112.92, 27.86)),
    ]});
    write(here, "blocks-overlap.geojson", &overlapping.to_string());
    let overlap = refused(
        &platform,
        "en",
        here,
        &[
            "import",
            "blocks",
            "blocks-overlap.geojson",
            "--teams",
            "teams.csv",
            "--yes",
        ],
    );
    assert!(overlap.contains("overlap"), "{overlap}");
    assert!(overlap.contains("activation refused"), "{overlap}");

    // The halves of the land, with their teams, come into force.
    ok(
        &platform,
        here,
        &[
            "import",
            "blocks",
            "blocks.geojson",
            "--teams",
            "teams.csv",
            "--yes",
        ],
    );
    let team = team_of(&platform, "430302001001001")
        .await
        .expect("the block has its team");
    assert_eq!(
        (team.governor.as_str(), team.supervisor.as_str()),
        ("yhl-0001", "yhl-0003")
    );

    // Teams later: the same table is unchanged; a bad one changes nothing
    // (in English on request); a changed supervisor is one update.
    let again = ok(&platform, here, &["import", "teams", "teams.csv", "--yes"]);
    assert!(again.contains("将新建 0、更新 0、2 行不变"), "{again}");
    assert!(again.contains("没有需要更改的内容"), "{again}");
    let bad_en = refused(
        &platform,
        "en",
        here,
        &["import", "teams", "teams-bad.csv", "--yes"],
    );
    assert!(
        bad_en
            .contains("yhl-0001 is both governor (row 2) and supervisor of block 430302001001001"),
        "{bad_en}"
    );
    assert!(bad_en.contains("nothing was changed"), "{bad_en}");
    assert_eq!(
        team_of(&platform, "430302001001001")
            .await
            .map(|team| team.supervisor),
        Some("yhl-0003".to_owned()),
        "a refused file changes nothing"
    );
    write(
        here,
        "teams-changed.csv",
        &teams.replace(
            "430302001001002,监督员,yhl-0006",
            "430302001001002,监督员,yhl-0003",
        ),
    );
    let changed = ok(
        &platform,
        here,
        &["import", "teams", "teams-changed.csv", "--yes"],
    );
    assert!(changed.contains("新建 0、更新 1、不变 1"), "{changed}");

    // Re-imports of the other tables: every row unchanged, counted as such.
    let again = ok(&platform, here, &["import", "staff", "staff.xlsx", "--yes"]);
    assert!(again.contains("新建 0、更新 0、不变 6"), "{again}");
    let again = ok(
        &platform,
        here,
        &["import", "subdistricts", "subdistricts.csv", "--yes"],
    );
    assert!(again.contains("2 行不变"), "{again}");

    // Round trips: what the platform holds, exported in the import's own
    // format (zh-CN headers, CSV and XLSX), imports again unchanged.
    for file in ["staff-export.xlsx", "staff-export.csv"] {
        let exported = ok(&platform, here, &["export", "staff", file]);
        assert!(exported.contains("6 行"), "{exported}");
        let again = ok(&platform, here, &["import", "staff", file, "--yes"]);
        assert!(again.contains("新建 0、更新 0、不变 6"), "{file}: {again}");
    }
    let headers = std::fs::read_to_string(here.join("staff-export.csv")).expect("the export");
    assert!(
        headers.starts_with("\u{feff}工号,姓名,手机号,工作单位,所属区划\n"),
        "{headers}"
    );
    assert!(
        refused(
            &platform,
            "zh-CN",
            here,
            &["export", "staff", "staff-export.csv"]
        )
        .contains("--force"),
        "an export does not overwrite a file unasked"
    );
    for file in ["teams-export.csv", "teams-export.xlsx"] {
        let exported = ok(&platform, here, &["export", "teams", file]);
        assert!(exported.contains("6 行"), "{exported}");
        let again = ok(&platform, here, &["import", "teams", file, "--yes"]);
        assert!(
            again.contains("将新建 0、更新 0、2 行不变"),
            "{file}: {again}"
        );
        assert!(again.contains("没有需要更改的内容"), "{file}: {again}");
    }
    let exported_teams = std::fs::read_to_string(here.join("teams-export.csv")).expect("export");
    assert!(
        exported_teams.contains("430302001001002,协理员,yhl-0005,联点干部"),
        "{exported_teams}"
    );
    // Blocks: the active generation as GeoJSON with its teams; imported
    // again as a draft, the draft exports exactly as the active one does.
    ok(
        &platform,
        here,
        &["export", "blocks", "blocks-export.geojson"],
    );
    let active: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(here.join("blocks-export.geojson")).expect("the export"),
    )
    .expect("GeoJSON");
    assert_eq!(
        active["features"].as_array().map(Vec::len),
        Some(2),
        "{active}"
    );
    assert_eq!(
        active["features"][1]["properties"]["team"]["supervisor"], "yhl-0003",
        "{active}"
    );
    let (success, stdout, stderr) = run(
        &platform,
        "zh-CN",
        here,
        &["import", "blocks", "blocks-export.geojson", "--no-activate"],
    );
    assert!(success, "{stdout}\n{stderr}");
    assert!(stdout.contains("0 error(s)"), "{stdout}");
    let draft = stderr
        .split_whitespace()
        .find(|word| word.starts_with("generations/"))
        .unwrap_or_else(|| panic!("the draft's name: {stderr}"))
        .to_owned();
    assert!(stderr.contains("with 2 blocks"), "{stderr}");
    ok(
        &platform,
        here,
        &[
            "export",
            "blocks",
            "blocks-draft.geojson",
            "--generation",
            &draft,
        ],
    );
    let drafted: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(here.join("blocks-draft.geojson")).expect("the export"),
    )
    .expect("GeoJSON");
    assert_eq!(
        drafted, active,
        "the re-imported blocks are the blocks in force"
    );

    // Duty lists and the matter catalogue (the reference files), then the
    // first case: a street light at a point in the second block reaches the
    // governor the teams table gave that block.
    let reference = Path::new(env!("CARGO_MANIFEST_DIR")).join("../services/duties/data/reference");
    let reference_file = |name: &str| reference.join(name).display().to_string();
    ok(
        &platform,
        here,
        &[
            "import",
            "duties",
            &reference_file("departments.csv"),
            "--kind",
            "departments",
        ],
    );
    for kind in [
        "subdistrict_duty",
        "subdistrict_cooperation",
        "residents_self_government",
        "residents_assisting",
        "residents_negative",
    ] {
        ok(
            &platform,
            here,
            &[
                "import",
                "duties",
                &reference_file(&format!("{kind}.csv")),
                "--kind",
                kind,
                "--publish",
                "--effective-from",
                "2025-01-01T00:00:00+08:00",
            ],
        );
    }
    // A published duty list, exported as CSV and JSON, imports unchanged.
    for file in [
        "subdistrict_duty-export.csv",
        "subdistrict_duty-export.json",
    ] {
        ok(
            &platform,
            here,
            &["export", "duties", file, "--kind", "subdistrict_duty"],
        );
        let again = ok(
            &platform,
            here,
            &[
                "--output",
                "json",
                "import",
                "duties",
                file,
                "--kind",
                "subdistrict_duty",
            ],
        );
        let again: serde_json::Value = serde_json::from_str(&again).expect("JSON");
        assert_eq!(again["unchanged"], true, "{file}: {again}");
    }
    ok(
        &platform,
        here,
        &[
            "import",
            "duties",
            &reference_file("matters.csv"),
            "--kind",
            "matters",
        ],
    );
    ok(
        &platform,
        here,
        &[
            "case",
            "report",
            "--channel",
            "hotline_12345",
            "--lon",
            "112.915",
            "--lat",
            "27.855",
            "--matter",
            "broken_street_light",
            "--description",
            "路灯不亮",
            "--reporter-name",
            "李先生",
            "--reporter-phone",
            "13900000000",
        ],
    );
    let dispatched = flatgov_journeys::eventually(
        "the first case dispatched to the block's governor",
        flatgov_journeys::PATIENCE,
        || async {
            let listed = ok(
                &platform,
                here,
                &["--output", "json", "case", "list", "--state", "dispatched"],
            );
            listed.contains("staff/yhl-0004").then_some(listed)
        },
    )
    .await;
    assert!(dispatched.contains("430302001001002"), "{dispatched}");

    // A point in the second block finds the team the file gave it.
    let located = platform
        .blocks()
        .locate_point(with_token(
            blocks::LocatePointRequest {
                point: Some(GeoPoint {
                    longitude: 112.915,
                    latitude: 27.855,
                    ..Default::default()
                }),
                ..Default::default()
            },
            &platform.admin(),
        ))
        .await
        .expect("LocatePoint")
        .into_inner()
        .block
        .expect("a block");
    assert_eq!(located.code, "430302001001002");
    assert_eq!(
        located.team.map(|team| team.governor),
        Some("yhl-0004".to_owned())
    );
}

/// Yuhu district's size (326 blocks; 326 governors, 326 assistants here
/// standing for the 2,373, 326 supervisors; a roster of 3,025): how long the
/// imports take through the CLI. Measures and prints; run it with
/// `cargo nextest run -p flatgov-journeys --test journeys yuhu_scale --run-ignored only --no-capture`.
#[tokio::test]
#[ignore = "a measurement: run on demand"]
async fn journey_first_day_imports_at_yuhu_scale_measured() {
    const BLOCKS: usize = 326;
    const ROSTER: usize = 3_025;
    let platform = Platform::start().await;
    let directory = tempfile::tempdir().expect("a working directory");
    let here = directory.path();
    let (west, south, north) = (112.90, 27.85, 27.86);
    let width = 0.0002;
    let east = west + width * BLOCKS as f64;
    write(
        here,
        "subdistricts.csv",
        "街道编码,街道名称,所属区名称\n430302001,雨湖路街道,雨湖区\n",
    );
    ok(
        &platform,
        here,
        &["import", "subdistricts", "subdistricts.csv", "--yes"],
    );
    write_geopackage(
        &here.join("land.gpkg"),
        &rectangle(west, south, east, north),
    );
    ok(&platform, here, &["import", "subdistricts", "land.gpkg"]);
    write(
        here,
        "communities.csv",
        "社区编码,社区名称\n430302001001,和平社区\n",
    );
    ok(
        &platform,
        here,
        &["import", "communities", "communities.csv", "--yes"],
    );

    let people: Vec<(String, String, f64, &str)> = (0..ROSTER)
        .map(|index| {
            (
                format!("yhl-{index:05}"),
                format!("人员{index}"),
                13_800_000_000.0 + index as f64,
                "430302001001",
            )
        })
        .collect();
    let borrowed: Vec<(&str, &str, f64, &str)> = people
        .iter()
        .map(|(id, name, phone, division)| (id.as_str(), name.as_str(), *phone, *division))
        .collect();
    write_staff_xlsx(&here.join("staff.xlsx"), &borrowed);
    let features: Vec<serde_json::Value> = (0..BLOCKS)
        .map(|index| {
            let left = west + width * index as f64;
            block_feature(
                &format!("430302001001{:03}", index + 1),
                &format!("和平第{:03}区块", index + 1),
                rectangle(left, south, left + width, north),
            )
        })
        .collect();
    write(
        here,
        "blocks.geojson",
        &json!({"type": "FeatureCollection", "features": features}).to_string(),
    );
    let team_rows = |supervisor_offset: usize| {
        let mut text = String::from("区块编码,岗位,工号,协理员类型\n");
        for index in 0..BLOCKS {
            let block = format!("430302001001{:03}", index + 1);
            text.push_str(&format!("{block},治理员,yhl-{:05},\n", index * 3));
            text.push_str(&format!(
                "{block},协理员,yhl-{:05},居民代表\n",
                index * 3 + 1
            ));
            text.push_str(&format!(
                "{block},监督员,yhl-{:05},\n",
                (index * 3 + 2 + supervisor_offset) % ROSTER
            ));
        }
        text
    };
    write(here, "teams.csv", &team_rows(0));
    write(here, "teams-moved.csv", &team_rows(BLOCKS * 3));

    let mut figures = Vec::new();
    let mut measure = |label: &str, arguments: &[&str]| {
        let started = std::time::Instant::now();
        let out = ok(&platform, here, arguments);
        figures.push(format!(
            "{label}: {:.2?} — {}",
            started.elapsed(),
            out.lines().last().unwrap_or_default()
        ));
    };
    measure(
        "staff, 3,025 rows XLSX, dry run",
        &["import", "staff", "staff.xlsx", "--dry-run"],
    );
    measure(
        "staff, 3,025 rows XLSX, applied",
        &["import", "staff", "staff.xlsx", "--yes"],
    );
    measure(
        "staff, re-imported unchanged",
        &["import", "staff", "staff.xlsx", "--yes"],
    );
    measure(
        "326 blocks + 978 team rows, drafted, validated, activated",
        &[
            "import",
            "blocks",
            "blocks.geojson",
            "--teams",
            "teams.csv",
            "--yes",
        ],
    );
    measure(
        "teams, re-imported unchanged",
        &["import", "teams", "teams.csv", "--yes"],
    );
    measure(
        "teams, 326 supervisors changed",
        &["import", "teams", "teams-moved.csv", "--yes"],
    );
    eprintln!("first day at Yuhu scale:\n  {}", figures.join("\n  "));
}
