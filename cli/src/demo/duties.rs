//! The demo district's duty lists: departments, the five lists and the
//! matter catalogue, from the duties service's reference data.

use anyhow::Context as _;
use flatgov_proto::duties::v1::{
    DataFormat, ImportCatalogueRequest, ImportDepartmentsRequest, ImportListRequest,
};

use crate::connect::{CallContext as _, Session};
use crate::demo::Progress;

const DEPARTMENTS: &str = include_str!("../../../services/duties/data/reference/departments.csv");
const MATTERS: &str = include_str!("../../../services/duties/data/reference/matters.csv");
const LISTS: [(&str, &str); 5] = [
    (
        "subdistrict_duty",
        include_str!("../../../services/duties/data/reference/subdistrict_duty.csv"),
    ),
    (
        "subdistrict_cooperation",
        include_str!("../../../services/duties/data/reference/subdistrict_cooperation.csv"),
    ),
    (
        "residents_self_government",
        include_str!("../../../services/duties/data/reference/residents_self_government.csv"),
    ),
    (
        "residents_assisting",
        include_str!("../../../services/duties/data/reference/residents_assisting.csv"),
    ),
    (
        "residents_negative",
        include_str!("../../../services/duties/data/reference/residents_negative.csv"),
    ),
];

/// When the demo lists take effect: a fixed instant in the past, so loading
/// twice publishes nothing new and cases reported today fall under them.
pub const EFFECTIVE_FROM_UNIX: i64 = 1_735_660_800; // 2025-01-01T00:00:00+08:00

pub async fn load(session: &Session, progress: &Progress) -> anyhow::Result<()> {
    let mut duties = session.duties()?;
    progress.step("duties: departments");
    let departments = duties
        .import_departments(ImportDepartmentsRequest {
            format: DataFormat::Csv as i32,
            content: DEPARTMENTS.to_owned(),
        })
        .await
        .doing("importing departments")?;
    progress.note(format!(
        "{} created, {} updated, {} unchanged",
        departments.created, departments.updated, departments.unchanged
    ));
    for (kind, content) in LISTS {
        progress.step(&format!("duties: list {kind}"));
        let imported = duties
            .import_list(ImportListRequest {
                parent: format!("lists/{kind}"),
                format: DataFormat::Csv as i32,
                content: content.to_owned(),
                publish: true,
                effective_from: Some(prost_types::Timestamp {
                    seconds: EFFECTIVE_FROM_UNIX,
                    nanos: 0,
                }),
            })
            .await
            .doing(&format!("importing list {kind}"))
            .with_context(|| format!("list {kind}"))?;
        progress.note(if imported.unchanged {
            format!("{} items, unchanged", imported.item_count)
        } else {
            format!("{} items published", imported.item_count)
        });
    }
    progress.step("duties: matter catalogue");
    let catalogue = duties
        .import_catalogue(ImportCatalogueRequest {
            format: DataFormat::Csv as i32,
            content: MATTERS.to_owned(),
        })
        .await
        .doing("importing the matter catalogue")?;
    progress.note(if catalogue.unchanged {
        format!("{} matters, unchanged", catalogue.matter_count)
    } else {
        format!("{} matters", catalogue.matter_count)
    });
    Ok(())
}
