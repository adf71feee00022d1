//! District departments that lead or cooperate on list items.

use std::collections::BTreeMap;

use flatgov_vocabulary::DepartmentCode;

/// A district department (区直部门) or public utility named on the lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Department {
    /// The stable code lists refer to.
    code: DepartmentCode,
    /// The official Chinese name, e.g. 区城市管理和综合执法局.
    name: String,
    /// An English gloss for readers who do not read Chinese.
    name_en: Option<String>,
}

/// Why a department cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DepartmentError {
    /// The Chinese name is blank.
    #[error("department {code} has an empty name")]
    EmptyName {
        /// The department whose name is blank.
        code: DepartmentCode,
    },
    /// Two departments share a code.
    #[error("department code {code} appears more than once")]
    DuplicateCode {
        /// The repeated code.
        code: DepartmentCode,
    },
}

impl Department {
    /// Builds a department; the name must not be blank. A blank English gloss is absent.
    pub fn new(
        code: DepartmentCode,
        name: &str,
        name_en: Option<&str>,
    ) -> Result<Self, DepartmentError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(DepartmentError::EmptyName { code });
        }
        let name_en = name_en
            .map(str::trim)
            .filter(|gloss| !gloss.is_empty())
            .map(str::to_owned);
        Ok(Self {
            code,
            name: name.to_owned(),
            name_en,
        })
    }

    /// The stable code.
    pub fn code(&self) -> &DepartmentCode {
        &self.code
    }

    /// The official Chinese name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The English gloss, if any.
    pub fn name_en(&self) -> Option<&str> {
        self.name_en.as_deref()
    }
}

/// The set of departments items may name, keyed by code. Lists are checked against it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Departments {
    /// Every department by its code.
    by_code: BTreeMap<DepartmentCode, Department>,
}

impl Departments {
    /// Builds the set; every code must be unique. All duplicates are reported.
    pub fn new(departments: Vec<Department>) -> Result<Self, Vec<DepartmentError>> {
        let mut by_code = BTreeMap::new();
        let mut problems = Vec::new();
        for department in departments {
            let code = department.code.clone();
            if by_code.insert(code.clone(), department).is_some() {
                problems.push(DepartmentError::DuplicateCode { code });
            }
        }
        if problems.is_empty() {
            Ok(Self { by_code })
        } else {
            Err(problems)
        }
    }

    /// Whether a department with this code exists.
    pub fn contains(&self, code: &DepartmentCode) -> bool {
        self.by_code.contains_key(code)
    }

    /// The department with this code.
    pub fn get(&self, code: &DepartmentCode) -> Option<&Department> {
        self.by_code.get(code)
    }

    /// Every department, ordered by code.
    pub fn iter(&self) -> impl Iterator<Item = &Department> {
        self.by_code.values()
    }

    /// How many departments there are.
    pub fn len(&self) -> usize {
        self.by_code.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_code.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> DepartmentCode {
        DepartmentCode::parse(text).unwrap()
    }

    #[test]
    fn a_department_keeps_its_trimmed_names() {
        let department = Department::new(
            code("urban_management"),
            " 区城市管理和综合执法局 ",
            Some(" Urban Management "),
        )
        .unwrap();
        assert_eq!(department.name(), "区城市管理和综合执法局");
        assert_eq!(department.name_en(), Some("Urban Management"));
    }

    #[test]
    fn a_blank_english_gloss_counts_as_absent() {
        let department = Department::new(code("health"), "区卫生健康局", Some("  ")).unwrap();
        assert_eq!(department.name_en(), None);
    }

    #[test]
    fn a_department_without_a_name_is_refused() {
        assert_eq!(
            Department::new(code("health"), "  ", None),
            Err(DepartmentError::EmptyName {
                code: code("health")
            })
        );
    }

    #[test]
    fn a_department_set_refuses_every_duplicate_code() {
        let health = Department::new(code("health"), "区卫生健康局", None).unwrap();
        let judicial = Department::new(code("judicial"), "区司法局", None).unwrap();
        let problems = Departments::new(vec![
            health.clone(),
            judicial.clone(),
            health.clone(),
            judicial,
        ])
        .unwrap_err();
        assert_eq!(
            problems,
            vec![
                DepartmentError::DuplicateCode {
                    code: code("health")
                },
                DepartmentError::DuplicateCode {
                    code: code("judicial")
                },
            ]
        );
    }

    #[test]
    fn a_department_set_answers_membership_by_code() {
        let departments = Departments::new(vec![
            Department::new(code("health"), "区卫生健康局", None).unwrap(),
        ])
        .unwrap();
        assert!(departments.contains(&code("health")));
        assert!(!departments.contains(&code("judicial")));
        assert_eq!(
            departments.get(&code("health")).unwrap().name(),
            "区卫生健康局"
        );
        assert_eq!(departments.len(), 1);
    }
}
