//! Case lists and the records indicators are computed from, narrowed to what a caller may see.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::lifecycle::TransitionRecord;

use super::{CASE_COLUMNS, StoredCase, case_from_row, record_from_json};

/// Which cases a caller may list: any of these conditions.
#[derive(Debug, Clone, Default)]
pub struct ListScope {
    /// Everything.
    pub everything: bool,
    /// Division code prefixes the caller's jurisdictions cover.
    pub division_prefixes: Vec<String>,
    /// Also cases not located yet (district-wide callers).
    pub unlocated: bool,
    /// Cases assigned to this unit (a department's).
    pub assignee: Option<String>,
    /// Cases referred to the federation: pending ones, and those accepted by this
    /// organisation.
    pub referrals_for: Option<String>,
    /// Cases this resident reported.
    pub reporter_subject: Option<String>,
}

/// Filters of a case list.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub state: Option<String>,
    pub tier: Option<String>,
    pub block_code: Option<String>,
    pub subdistrict_code: Option<String>,
    pub assignee: Option<String>,
    pub overdue_at: Option<DateTime<Utc>>,
    pub kind: Option<String>,
    pub triage_status: Option<String>,
    /// Only cases with ids below this (the page token).
    pub before: Option<Uuid>,
}

pub(super) fn push_scope(builder: &mut sqlx::QueryBuilder<sqlx::Postgres>, scope: &ListScope) {
    if scope.everything {
        builder.push("true");
        return;
    }
    builder.push("(false");
    if !scope.division_prefixes.is_empty() {
        let patterns: Vec<String> = scope
            .division_prefixes
            .iter()
            .map(|prefix| format!("{prefix}%"))
            .collect();
        builder.push(" or (division_code <> '' and division_code like any(");
        builder.push_bind(patterns);
        builder.push("))");
    }
    if scope.unlocated {
        builder.push(" or division_code = ''");
    }
    if let Some(assignee) = &scope.assignee {
        builder.push(" or assignee = ");
        builder.push_bind(assignee.clone());
    }
    if let Some(organisation) = &scope.referrals_for {
        builder.push(" or referral_state = 'pending' or (referral_state = 'accepted' and referral_organisation = ");
        builder.push_bind(organisation.clone());
        builder.push(")");
    }
    if let Some(subject) = &scope.reporter_subject {
        builder.push(" or reporter_subject = ");
        builder.push_bind(subject.clone());
    }
    builder.push(")");
}

/// A page of cases, newest first.
pub async fn list_cases(
    connection: &mut PgConnection,
    scope: &ListScope,
    filter: &ListFilter,
    limit: i64,
) -> Result<Vec<StoredCase>, sqlx::Error> {
    let mut builder = sqlx::QueryBuilder::new(format!("select {CASE_COLUMNS} from cases where "));
    push_scope(&mut builder, scope);
    let mut equal = |column: &str, value: &Option<String>| {
        if let Some(value) = value {
            builder.push(format!(" and {column} = "));
            builder.push_bind(value.clone());
        }
    };
    equal("state", &filter.state);
    equal("tier", &filter.tier);
    equal("block_code", &filter.block_code);
    equal("subdistrict_code", &filter.subdistrict_code);
    equal("assignee", &filter.assignee);
    equal("kind", &filter.kind);
    equal("triage_status", &filter.triage_status);
    if let Some(now) = filter.overdue_at {
        builder.push(" and earliest_running_due < ");
        builder.push_bind(now);
    }
    if let Some(before) = filter.before {
        builder.push(" and id < ");
        builder.push_bind(before);
    }
    builder.push(" order by id desc limit ");
    builder.push_bind(limit);
    let rows = builder.build().fetch_all(connection).await?;
    rows.iter().map(case_from_row).collect()
}

/// Per block: the open cases `scope` lets the caller see, and how many of them have a
/// running time limit passed at `now` (the same test as `overdue_only`), by block code.
pub async fn count_open_by_block(
    connection: &mut PgConnection,
    scope: &ListScope,
    subdistrict_code: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Vec<(String, i64, i64)>, sqlx::Error> {
    let mut builder = sqlx::QueryBuilder::new(
        "select block_code, count(*), count(*) filter (where earliest_running_due < ",
    );
    builder.push_bind(now);
    builder.push(") from cases where ");
    push_scope(&mut builder, scope);
    // The partial index cases_open_block serves this.
    builder.push(" and state <> 'closed' and block_code is not null and block_code <> ''");
    if let Some(code) = subdistrict_code {
        builder.push(" and subdistrict_code = ");
        builder.push_bind(code.to_owned());
    }
    builder.push(" group by block_code order by block_code");
    builder.build_query_as().fetch_all(connection).await
}

/// The records of the cases reported in `[start, end)` that `scope` lets the caller see,
/// up to `as_of`.
pub async fn records_for_indicators(
    connection: &mut PgConnection,
    scope: &ListScope,
    subdistrict_code: Option<&str>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    as_of: DateTime<Utc>,
) -> Result<Vec<TransitionRecord>, sqlx::Error> {
    let mut builder = sqlx::QueryBuilder::new(
        "select r.record from case_records r join cases on cases.id = r.case_id where ",
    );
    push_scope(&mut builder, scope);
    builder.push(" and cases.reported_at >= ");
    builder.push_bind(start);
    builder.push(" and cases.reported_at < ");
    builder.push_bind(end);
    builder.push(" and r.at <= ");
    builder.push_bind(as_of);
    if let Some(code) = subdistrict_code {
        builder.push(" and cases.subdistrict_code = ");
        builder.push_bind(code.to_owned());
    }
    let rows: Vec<serde_json::Value> = builder.build_query_scalar().fetch_all(connection).await?;
    rows.into_iter().map(record_from_json).collect()
}
