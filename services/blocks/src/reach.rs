//! Which places, staff and generations a caller reaches on this call.
//!
//! The policy table ([`crate::policy`]) decides which roles may call an RPC
//! and with which scopes; these helpers answer the questions that need data:
//! does the caller's grant reach this block, this person, this draft? A
//! handler asks them once it has loaded the resource, and answers a
//! resource the caller does not reach exactly as one that does not exist
//! (or, for public places the caller may see but not change, with
//! `PERMISSION_DENIED`).
//!
//! The public grant of the map RPCs reaches every place but only the basic
//! view; what a caller reaches *beyond* it (as an administrator, front-line
//! staff, a department, a named service) is [`StaffReach`].

use flatgov_auth::Role;
use flatgov_auth::policy::{Access, Resource, Scope};

use crate::error::Error;
use crate::resources::division_name;
use crate::store::generations::GenerationRow;

/// True when the caller's grant on this call reaches the division with
/// `code` (a district, subdistrict, community or block code).
pub fn reaches_division(access: &Access, code: &str) -> bool {
    access.reaches(&Resource::in_division(code))
}

/// `PERMISSION_DENIED` unless the caller reaches the division with `code`:
/// for changes to places anyone may see (divisions, the blocks in force).
pub fn require_division(access: &Access, code: &str) -> Result<(), Error> {
    if reaches_division(access, code) {
        return Ok(());
    }
    Err(outside_jurisdiction(&division_name(code)))
}

/// The refusal of a change to a public place outside the caller's reach;
/// it names only the place the caller asked about.
pub fn outside_jurisdiction(resource: &str) -> Error {
    Error::PermissionDenied(format!("{resource} is outside the caller's jurisdiction"))
}

/// What the caller reaches through the non-public grants of this call.
///
/// Places are reached through place scopes (jurisdiction, own block) or
/// scopes that reach everything (departments, named services). A
/// district-wide grant reaches only what has no place: staff who work for no
/// division and serve on no team; a district-level administrator's claim
/// still limits them to their own district's places.
#[derive(Debug, Clone)]
pub struct StaffReach {
    /// The call's access.
    access: Access,
}

impl StaffReach {
    pub fn of(access: &Access) -> Self {
        Self {
            access: access.clone(),
        }
    }

    /// True when the caller's grant reaches every place (departments and
    /// federation staff reading teams, named services).
    pub fn unlimited(&self) -> bool {
        self.access.has_scope(Scope::Everything) || self.access.is_named_service()
    }

    /// True when the caller's grant covers what has no place.
    pub fn district_wide(&self) -> bool {
        self.access.has_scope(Scope::DistrictWide)
    }

    /// True when a non-public grant reaches the division with `code`.
    pub fn reaches(&self, code: &str) -> bool {
        self.places().contains(code)
    }

    /// Where the caller's non-public grants reach.
    pub fn places(&self) -> Places {
        if self.unlimited() {
            return Places::Everywhere;
        }
        Places::Under(self.access.division_prefixes())
    }

    /// The caller's subject when the grant includes their own records.
    pub fn own_subject(&self) -> Option<&str> {
        if !self.access.has_scope(Scope::Own) {
            return None;
        }
        self.access.caller().map(|caller| caller.subject.as_str())
    }

    /// True when the caller reaches the staff member `id` whose places (the
    /// division they work for, the blocks they serve on) are `places`: by
    /// place, as that person themself, or district-wide when they have no
    /// place.
    pub fn reaches_staff<'a>(&self, id: &str, places: impl IntoIterator<Item = &'a str>) -> bool {
        if self.own_subject() == Some(id) {
            return true;
        }
        let places: Vec<&str> = places.into_iter().collect();
        if places.is_empty() {
            return self.district_wide() || self.unlimited();
        }
        places.iter().any(|place| self.reaches(place))
    }

    /// True when the caller may see draft blocks at the division with `code`:
    /// drafts are administrators' work, within their jurisdiction.
    pub fn sees_drafts_at(&self, code: &str) -> bool {
        self.access
            .role_reaches(Role::DistrictAdmin, &Resource::in_division(code))
    }

    /// Where the caller sees draft blocks: where their administrator grant
    /// reaches (nowhere for anyone else).
    pub fn draft_places(&self) -> Places {
        let Some(caller) = self.access.caller() else {
            return Places::Under(Vec::new());
        };
        if self
            .access
            .role_reaches(Role::DistrictAdmin, &Resource::default())
        {
            return Places::Everywhere;
        }
        Places::Under(
            caller
                .jurisdictions
                .iter()
                .map(|claim| claim.code().to_owned())
                .filter(|code| self.sees_drafts_at(code))
                .collect(),
        )
    }

    /// True when the caller holds an administrator grant on this method
    /// that reaches some place (they see drafts there).
    pub fn is_admin(&self) -> bool {
        self.draft_places() != Places::Under(Vec::new())
    }

    /// How far the caller reaches a generation: drafts (and discarded
    /// drafts) are seen by administrators reaching one of the subdistricts
    /// the import supplied and worked on when they reach all of them; the
    /// generations that were in force by whoever reaches a subdistrict of
    /// theirs.
    pub fn generation(&self, generation: &GenerationRow) -> GenerationReach {
        let in_force_once = matches!(generation.state.as_str(), "active" | "retired");
        let concerned: &[String] = if in_force_once || generation.scope_subdistricts.is_empty() {
            &generation.subdistricts_covered
        } else {
            &generation.scope_subdistricts
        };
        let reached = concerned
            .iter()
            .filter(|code| {
                if in_force_once {
                    self.reaches(code)
                } else {
                    self.sees_drafts_at(code)
                }
            })
            .count();
        if reached > 0 && reached == concerned.len() {
            GenerationReach::Whole
        } else if reached > 0 {
            GenerationReach::Part
        } else {
            GenerationReach::Hidden
        }
    }
}

/// How much of a generation a caller reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GenerationReach {
    /// Not at all: answered as if it did not exist.
    Hidden,
    /// Some of the subdistricts it concerns: the caller sees it but may not
    /// validate, activate or discard it.
    Part,
    /// Every subdistrict it concerns.
    Whole,
}

impl GenerationReach {
    pub fn is_visible(self) -> bool {
        self != GenerationReach::Hidden
    }
}

/// Where a caller reaches: everywhere, or under some divisions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Places {
    /// Not limited by place.
    Everywhere,
    /// Only under these division codes (none at all when empty).
    Under(Vec<String>),
}

impl Places {
    /// True when the division with `code` lies in these places.
    pub fn contains(&self, code: &str) -> bool {
        match self {
            Places::Everywhere => true,
            Places::Under(prefixes) => prefixes.iter().any(|prefix| code.starts_with(prefix)),
        }
    }

    /// SQL `LIKE` patterns (`430302001%`) of the places, `None` for everywhere:
    /// `($1::text[] is null or code like any($1))`.
    pub fn like_patterns(&self) -> Option<Vec<String>> {
        match self {
            Places::Everywhere => None,
            Places::Under(prefixes) => {
                Some(prefixes.iter().map(|prefix| format!("{prefix}%")).collect())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use flatgov_auth::Caller;
    use flatgov_auth::policy::earned;

    use super::*;
    use crate::policy::POLICY;

    fn reach(method: &str, roles: &[Role], jurisdictions: &[&str]) -> StaffReach {
        let caller = Caller {
            subject: "someone".into(),
            roles: roles.iter().copied().collect(),
            organisation: None,
            jurisdictions: jurisdictions
                .iter()
                .map(|name| name.parse().expect("jurisdiction"))
                .collect(),
        };
        let rule = POLICY.rule(method).expect("a rule");
        let scopes = earned(rule, Some(&caller)).expect("granted");
        StaffReach::of(&Access::new(Some(caller), rule, scopes))
    }

    #[test]
    fn places_contain_what_their_prefixes_cover() {
        let places = Places::Under(vec!["430302001".into()]);
        assert!(places.contains("430302001002017"));
        assert!(!places.contains("430302002001001"));
        assert_eq!(places.like_patterns(), Some(vec!["430302001%".to_owned()]));
        assert!(Places::Everywhere.contains("anything"));
        assert!(!Places::Under(Vec::new()).contains("430302"));
    }

    #[test]
    fn only_administrators_see_drafts_and_only_in_their_jurisdiction() {
        let admin = reach(
            "GetBlock",
            &[Role::DistrictAdmin],
            &["subdistricts/430302001"],
        );
        assert!(admin.sees_drafts_at("430302001002017"));
        assert!(!admin.sees_drafts_at("430302002001001"));
        assert_eq!(
            admin.draft_places(),
            Places::Under(vec!["430302001".into()])
        );
        let dispatcher = reach(
            "GetBlock",
            &[Role::SubdistrictDispatcher],
            &["subdistricts/430302001"],
        );
        assert!(dispatcher.reaches("430302001002017"));
        assert!(!dispatcher.sees_drafts_at("430302001002017"));
        assert!(!dispatcher.is_admin());
    }

    #[test]
    fn a_district_wide_grant_reaches_only_staff_without_a_place() {
        let other_district = reach("DeleteStaff", &[Role::DistrictAdmin], &["districts/430303"]);
        assert!(other_district.district_wide());
        assert!(!other_district.reaches_staff("gov-1", ["430302001001001"]));
        assert!(other_district.reaches_staff("roaming", []));
        let subdistrict = reach(
            "DeleteStaff",
            &[Role::DistrictAdmin],
            &["subdistricts/430302001"],
        );
        assert!(!subdistrict.district_wide());
        assert!(!subdistrict.reaches_staff("roaming", []));
        assert!(subdistrict.reaches_staff("gov-1", ["430302001001001"]));
    }

    #[test]
    fn staff_reach_their_own_record_wherever_it_is() {
        let governor = reach("GetStaff", &[Role::Governor], &["blocks/430302001001001"]);
        assert!(governor.reaches_staff("someone", ["430302009001001"]));
        assert!(!governor.reaches_staff("other", ["430302009001001"]));
    }
}
