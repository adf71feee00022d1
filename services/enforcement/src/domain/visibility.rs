//! Who may see what of an operation.
//!
//! - Officers of an agency see only operations their agency is summoned to.
//! - Notes an agency marks sensitive (police investigation details, …) are
//!   visible only to that agency — not to dispatchers, not to administrators.
//! - Subdistrict dispatchers see the operations of their jurisdiction, whole
//!   but for those notes.
//! - District administrators see everything but those notes; other flatgov
//!   services and integrators see operations without officers' names.

use super::codes::AgencyCode;

/// The viewpoint of a caller, from the strongest of its roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Viewer {
    DistrictAdmin,
    /// Division codes of the dispatcher's jurisdictions (prefixes).
    Dispatcher {
        jurisdictions: Vec<String>,
    },
    /// An officer acting for this agency.
    Agency(AgencyCode),
    /// Another flatgov service.
    Service,
    /// A read-only outside system.
    Integrator,
}

impl Viewer {
    /// Whether the operation in `subdistrict` with these summoned agencies is
    /// visible at all.
    pub fn may_see_operation(&self, subdistrict: &str, summoned: &[AgencyCode]) -> bool {
        match self {
            Viewer::DistrictAdmin | Viewer::Service | Viewer::Integrator => true,
            Viewer::Dispatcher { jurisdictions } => covers(jurisdictions, subdistrict),
            Viewer::Agency(agency) => summoned.contains(agency),
        }
    }

    /// Whether an action's notes are shown.
    pub fn may_see_notes(&self, recorded_by_agency: &AgencyCode, sensitive: bool) -> bool {
        if !sensitive {
            return !matches!(self, Viewer::Integrator);
        }
        matches!(self, Viewer::Agency(agency) if agency == recorded_by_agency)
    }

    /// Whether officers' names and badge numbers are shown.
    pub fn may_see_officer_names(&self) -> bool {
        matches!(
            self,
            Viewer::DistrictAdmin | Viewer::Dispatcher { .. } | Viewer::Agency(_)
        )
    }

    /// Whether an officer's phone number is shown.
    pub fn may_see_officer_phone(&self, officer_agency: &AgencyCode) -> bool {
        match self {
            Viewer::DistrictAdmin => true,
            Viewer::Agency(agency) => agency == officer_agency,
            _ => false,
        }
    }

    /// Whether the viewer may see figures of this subdistrict.
    pub fn covers_subdistrict(&self, subdistrict: &str) -> bool {
        match self {
            Viewer::Dispatcher { jurisdictions } => covers(jurisdictions, subdistrict),
            _ => true,
        }
    }
}

fn covers(jurisdictions: &[String], code: &str) -> bool {
    jurisdictions
        .iter()
        .any(|jurisdiction| code.starts_with(jurisdiction.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agency(code: &str) -> AgencyCode {
        AgencyCode::parse(code).unwrap()
    }

    #[test]
    fn officers_see_only_operations_their_agency_is_summoned_to() {
        let summoned = [agency("urban_management"), agency("market_supervision")];
        assert!(
            Viewer::Agency(agency("urban_management")).may_see_operation("430302001", &summoned)
        );
        assert!(
            !Viewer::Agency(agency("public_security")).may_see_operation("430302001", &summoned)
        );
    }

    #[test]
    fn dispatchers_see_operations_of_their_jurisdiction_only() {
        let dispatcher = Viewer::Dispatcher {
            jurisdictions: vec!["430302001".into()],
        };
        assert!(dispatcher.may_see_operation("430302001", &[]));
        assert!(!dispatcher.may_see_operation("430302002", &[]));
        let district = Viewer::Dispatcher {
            jurisdictions: vec!["430302".into()],
        };
        assert!(district.may_see_operation("430302008", &[]));
        assert!(!district.covers_subdistrict("430303001"));
    }

    #[test]
    fn sensitive_notes_are_visible_only_to_the_agency_that_wrote_them() {
        let police = agency("public_security");
        assert!(Viewer::Agency(police.clone()).may_see_notes(&police, true));
        for viewer in [
            Viewer::Agency(agency("urban_management")),
            Viewer::DistrictAdmin,
            Viewer::Dispatcher {
                jurisdictions: vec!["430302".into()],
            },
            Viewer::Service,
            Viewer::Integrator,
        ] {
            assert!(!viewer.may_see_notes(&police, true), "{viewer:?}");
        }
        assert!(Viewer::DistrictAdmin.may_see_notes(&police, false));
        assert!(!Viewer::Integrator.may_see_notes(&police, false));
    }

    #[test]
    fn officers_personal_data_is_shown_only_to_those_who_work_with_them() {
        let urban = agency("urban_management");
        assert!(!Viewer::Integrator.may_see_officer_names());
        assert!(!Viewer::Service.may_see_officer_names());
        assert!(Viewer::Agency(urban.clone()).may_see_officer_phone(&urban));
        assert!(!Viewer::Agency(agency("public_security")).may_see_officer_phone(&urban));
        assert!(
            !Viewer::Dispatcher {
                jurisdictions: vec!["430302".into()]
            }
            .may_see_officer_phone(&urban)
        );
    }
}
