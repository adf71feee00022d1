//! Reading what a case's reporter was told.

use flatgov_auth::policy::Access;
use uuid::Uuid;

use super::Notices;
use crate::error::Error;
use crate::policy::reaches_place;
use crate::store::{self, feedback::FeedbackRow};

impl Notices {
    /// The messages of a case the caller reaches. NOT_FOUND alike for a
    /// case this service has no message of and for one the caller does not
    /// reach.
    pub async fn list_feedback(
        &self,
        access: &Access,
        case_id: Uuid,
    ) -> Result<Vec<FeedbackRow>, Error> {
        let name = format!("cases/{case_id}");
        let mut connection = self
            .pool
            .acquire()
            .await
            .map_err(|source| Error::database("reading a case's feedback", source))?;
        let rows = store::feedback::for_case(&mut connection, case_id).await?;
        // Every row of a case carries the place its event gave; the latest
        // is where the case is now.
        let reached = rows
            .last()
            .is_some_and(|row| reaches_place(access, &row.block_code, &row.subdistrict_code));
        if !reached {
            return Err(Error::NotFound(format!("{name} has no feedback")));
        }
        Ok(rows)
    }
}
