//! Which agencies a whistle summons, and which of them leads.
//!
//! In order of preference: the agencies the caller (or the escalation event)
//! names; the matter's lead and cooperating departments in the duty lists
//! that are registered, active agencies; the configured default set. A
//! department in the duty lists that is not an enforcement agency (say,
//! housing) is left out, and the selection note says so.

use super::codes::AgencyCode;
use super::vocabulary::AgencySelection;

/// At most this many agencies per operation.
pub const MAX_AGENCIES: usize = 10;

/// The agencies to summon, lead first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// Distinct agencies, the lead first.
    pub agencies: Vec<AgencyCode>,
    pub how: AgencySelection,
    /// Why the selection is what it is, for people reading the operation.
    pub note: String,
}

impl Selection {
    pub fn lead(&self) -> &AgencyCode {
        // Every constructor guarantees at least one agency.
        &self.agencies[0]
    }
}

/// Why named agencies cannot be summoned as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectionError {
    #[error("lead agency {lead} is not among the summoned agencies ({})", join(.summoned))]
    LeadNotSummoned {
        lead: AgencyCode,
        summoned: Vec<AgencyCode>,
    },
    #[error("at most {MAX_AGENCIES} agencies may be summoned; {0} were named")]
    TooMany(usize),
}

fn join(agencies: &[AgencyCode]) -> String {
    agencies
        .iter()
        .map(AgencyCode::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

fn distinct(agencies: impl IntoIterator<Item = AgencyCode>) -> Vec<AgencyCode> {
    let mut seen = Vec::new();
    for agency in agencies {
        if !seen.contains(&agency) {
            seen.push(agency);
        }
    }
    seen
}

fn lead_first(mut agencies: Vec<AgencyCode>, lead: &AgencyCode) -> Vec<AgencyCode> {
    if let Some(position) = agencies.iter().position(|agency| agency == lead) {
        let chosen = agencies.remove(position);
        agencies.insert(0, chosen);
    }
    agencies
}

/// Agencies named by the caller; `None` when the list is empty. The lead
/// defaults to the first named.
pub fn requested(
    agencies: Vec<AgencyCode>,
    lead: Option<AgencyCode>,
    note: String,
) -> Result<Option<Selection>, SelectionError> {
    let agencies = distinct(agencies);
    if agencies.is_empty() {
        return Ok(None);
    }
    if agencies.len() > MAX_AGENCIES {
        return Err(SelectionError::TooMany(agencies.len()));
    }
    let agencies = match lead {
        Some(lead) if !agencies.contains(&lead) => {
            return Err(SelectionError::LeadNotSummoned {
                lead,
                summoned: agencies,
            });
        }
        Some(lead) => lead_first(agencies, &lead),
        None => agencies,
    };
    Ok(Some(Selection {
        agencies,
        how: AgencySelection::Requested,
        note,
    }))
}

/// The duty lists' answer for the matter: the lead department (when the
/// lead is a department rather than a division) and the cooperating
/// departments, kept when they are `active` agencies. `None` when none is.
/// A requested lead that is among them leads; otherwise the duty lists' lead
/// does when summoned, else the first cooperating agency.
pub fn from_duty_lists(
    lead_department: Option<&str>,
    cooperating_departments: &[String],
    active: &[AgencyCode],
    requested_lead: Option<&AgencyCode>,
) -> Option<Selection> {
    let named: Vec<&str> = lead_department
        .into_iter()
        .chain(cooperating_departments.iter().map(String::as_str))
        .collect();
    let (kept, left_out): (Vec<&str>, Vec<&str>) = named
        .into_iter()
        .partition(|department| active.iter().any(|agency| agency.as_str() == *department));
    let agencies = distinct(
        kept.into_iter()
            .filter_map(|department| AgencyCode::parse(department).ok()),
    );
    if agencies.is_empty() {
        return None;
    }
    let mut agencies: Vec<AgencyCode> = agencies.into_iter().take(MAX_AGENCIES).collect();
    if let Some(lead) = requested_lead {
        agencies = lead_first(agencies, lead);
    }
    let mut note = String::from("from the duty lists' lead and cooperating departments");
    if !left_out.is_empty() {
        note.push_str(&format!(
            "; not enforcement agencies here, left out: {}",
            distinct_str(&left_out).join(", ")
        ));
    }
    Some(Selection {
        agencies,
        how: AgencySelection::DutyLists,
        note,
    })
}

fn distinct_str<'a>(values: &[&'a str]) -> Vec<&'a str> {
    let mut seen: Vec<&str> = Vec::new();
    for value in values {
        if !seen.contains(value) {
            seen.push(value);
        }
    }
    seen
}

/// The configured default set, restricted to active agencies; when none of
/// them is active, every active agency (a whistle is never left without
/// someone summoned). `None` only when no agency is active at all.
pub fn default_set(
    default: &[AgencyCode],
    active: &[AgencyCode],
    requested_lead: Option<&AgencyCode>,
    reason: &str,
) -> Option<Selection> {
    let configured: Vec<AgencyCode> = default
        .iter()
        .filter(|agency| active.contains(agency))
        .cloned()
        .collect();
    let (agencies, note) = if configured.is_empty() {
        (
            active.to_vec(),
            format!(
                "{reason}; no agency of the default set is active, so every active agency is summoned"
            ),
        )
    } else {
        (configured, format!("{reason}; the default set is summoned"))
    };
    let mut agencies: Vec<AgencyCode> = distinct(agencies).into_iter().take(MAX_AGENCIES).collect();
    if agencies.is_empty() {
        return None;
    }
    if let Some(lead) = requested_lead {
        agencies = lead_first(agencies, lead);
    }
    Some(Selection {
        agencies,
        how: AgencySelection::DefaultSet,
        note,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(list: &[&str]) -> Vec<AgencyCode> {
        list.iter()
            .map(|code| AgencyCode::parse(code).unwrap())
            .collect()
    }

    fn founding() -> Vec<AgencyCode> {
        codes(&["urban_management", "market_supervision", "public_security"])
    }

    #[test]
    fn named_agencies_are_summoned_once_each_with_the_first_leading() {
        let selection = requested(
            codes(&[
                "market_supervision",
                "urban_management",
                "market_supervision",
            ]),
            None,
            String::new(),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            selection.agencies,
            codes(&["market_supervision", "urban_management"])
        );
        assert_eq!(selection.lead().as_str(), "market_supervision");
        assert_eq!(selection.how, AgencySelection::Requested);
    }

    #[test]
    fn a_named_lead_must_be_summoned_and_then_leads() {
        let selection = requested(
            codes(&["market_supervision", "urban_management"]),
            Some(codes(&["urban_management"])[0].clone()),
            String::new(),
        )
        .unwrap()
        .unwrap();
        assert_eq!(selection.lead().as_str(), "urban_management");
        let error = requested(
            codes(&["market_supervision"]),
            Some(codes(&["public_security"])[0].clone()),
            String::new(),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "lead agency public_security is not among the summoned agencies (market_supervision)"
        );
    }

    #[test]
    fn no_named_agencies_means_the_service_decides() {
        assert_eq!(requested(Vec::new(), None, String::new()), Ok(None));
    }

    #[test]
    fn the_duty_lists_lead_leads_and_departments_that_are_not_agencies_are_left_out() {
        let selection = from_duty_lists(
            Some("urban_management"),
            &["housing_construction".into(), "market_supervision".into()],
            &founding(),
            None,
        )
        .unwrap();
        assert_eq!(
            selection.agencies,
            codes(&["urban_management", "market_supervision"])
        );
        assert_eq!(selection.how, AgencySelection::DutyLists);
        assert!(
            selection.note.contains("left out: housing_construction"),
            "{}",
            selection.note
        );
    }

    #[test]
    fn a_division_lead_leaves_the_cooperating_agencies_to_lead() {
        let selection =
            from_duty_lists(None, &["public_security".into()], &founding(), None).unwrap();
        assert_eq!(selection.lead().as_str(), "public_security");
    }

    #[test]
    fn duty_lists_naming_no_agency_give_no_selection() {
        assert_eq!(
            from_duty_lists(Some("civil_affairs"), &["health".into()], &founding(), None),
            None
        );
    }

    #[test]
    fn the_default_set_is_limited_to_active_agencies_and_never_empty_while_any_is_active() {
        let active = codes(&["urban_management", "emergency_management"]);
        let selection = default_set(&founding(), &active, None, "duty lists unreachable").unwrap();
        assert_eq!(selection.agencies, codes(&["urban_management"]));
        assert!(selection.note.starts_with("duty lists unreachable"));

        let only_other = codes(&["emergency_management"]);
        let selection = default_set(&founding(), &only_other, None, "no matter").unwrap();
        assert_eq!(selection.agencies, only_other);
        assert!(selection.note.contains("every active agency"));

        assert_eq!(default_set(&founding(), &[], None, "x"), None);
    }

    #[test]
    fn a_requested_lead_leads_a_default_set_it_belongs_to() {
        let lead = codes(&["public_security"])[0].clone();
        let selection = default_set(&founding(), &founding(), Some(&lead), "x").unwrap();
        assert_eq!(selection.lead(), &lead);
        assert_eq!(selection.agencies.len(), 3);
    }
}
