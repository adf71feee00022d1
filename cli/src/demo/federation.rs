//! The demo district's federation: the ten member organisations are part
//! of the service's own data; the demo gives each a lead and a case worker.

use flatgov_proto::federation::v1::{
    CreateStaffRequest, ListOrganisationsRequest, StaffPermission,
};

use crate::connect::{CallContext as _, Session, describe};
use crate::demo::Progress;

pub async fn load(session: &Session, progress: &Progress) -> anyhow::Result<()> {
    let mut federation = session.federation()?;
    progress.step("federation: organisations and staff");
    let organisations = federation
        .list_organisations(ListOrganisationsRequest {
            page_size: 100,
            page_token: String::new(),
            include_inactive: false,
        })
        .await
        .doing("listing organisations")?
        .organisations;
    let mut created = 0;
    for organisation in &organisations {
        let staff = [
            (
                format!("{}-lead", organisation.code),
                format!("{}负责人（示例）", organisation.short_name_or_name()),
                "lead",
                vec![
                    StaffPermission::ManageStaff,
                    StaffPermission::PeopleRegister,
                ],
            ),
            (
                format!("{}-worker", organisation.code),
                format!("{}工作人员（示例）", organisation.short_name_or_name()),
                "case worker",
                vec![StaffPermission::PeopleRegister],
            ),
        ];
        for (staff_id, display_name, position, permissions) in staff {
            let result = federation
                .create_staff(CreateStaffRequest {
                    parent: organisation.name.clone(),
                    staff_id,
                    display_name,
                    position: position.to_owned(),
                    permissions: permissions
                        .into_iter()
                        .map(|permission| permission as i32)
                        .collect(),
                })
                .await;
            match result {
                Ok(_) => created += 1,
                Err(status) if status.code() == tonic::Code::AlreadyExists => {}
                Err(status) => {
                    anyhow::bail!("creating federation staff failed: {}", describe(&status))
                }
            }
        }
    }
    progress.note(format!(
        "{} organisations, {created} staff created",
        organisations.len()
    ));
    Ok(())
}

trait DisplayName {
    fn short_name_or_name(&self) -> &str;
}

impl DisplayName for flatgov_proto::federation::v1::Organisation {
    fn short_name_or_name(&self) -> &str {
        if self.short_name.is_empty() {
            &self.display_name
        } else {
            &self.short_name
        }
    }
}
