//! The audit trail a district can show an inspector.
//!
//! Every write, and every read of personal data, appends a [`Record`] to
//! the `flatgov_audit` table of the service that owns the data: who (token
//! subject, roles, organisation), what (service, method, resource names),
//! when, the outcome the caller received and the trace id. Never the
//! personal data itself.
//!
//! Records form hash chains (see `migrations/0001_audit.sql`): [`verify`]
//! recomputes every hash and names the first record that was changed,
//! removed or slipped in by hand. Appending goes through a security-definer
//! function, so the application role can add records but never alter or
//! delete them, nor backdate one. [`prune`] drops records past the
//! retention period (at least 180 days), leaving anchors so the chains
//! still verify.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, Row as _};

/// The chassis' audit tables and functions, with their own migration
/// history so services number their migrations freely.
pub fn migrator() -> sqlx::migrate::Migrator {
    let mut migrator = sqlx::migrate!("./migrations");
    migrator.dangerous_set_table_name("_flatgov_audit_migrations");
    migrator
}

/// Tables no application role may update or delete from: the audit trail
/// and its anchors.
pub const APPEND_ONLY_TABLES: [&str; 2] = ["flatgov_audit", "flatgov_audit_anchor"];

/// Functions the application role executes (security definer).
pub const FUNCTIONS: [&str; 2] = [
    "flatgov_audit_append(text, text, text, text, text, text[], text, text)",
    "flatgov_audit_prune(interval)",
];

/// Who did what: one entry to append.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Entry {
    /// Token subject; empty for an anonymous call.
    pub subject: String,
    pub roles: Vec<String>,
    pub organisation: String,
    /// Fully-qualified gRPC service.
    pub service: String,
    pub method: String,
    /// Resource names the call touched.
    pub resources: Vec<String>,
    /// gRPC status code name (`OK`, `PERMISSION_DENIED`, …).
    pub outcome: String,
    pub trace_id: String,
}

/// A stored record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub entry: Entry,
}

/// Appends `entry` on `connection` (inside the caller's transaction when
/// it is one: the record then commits or rolls back with the change).
/// Returns the record's id.
pub async fn append(connection: &mut PgConnection, entry: &Entry) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("select flatgov_audit_append($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(&entry.subject)
        .bind(entry.roles.join(","))
        .bind(&entry.organisation)
        .bind(&entry.service)
        .bind(&entry.method)
        .bind(&entry.resources)
        .bind(&entry.outcome)
        .bind(&entry.trace_id)
        .fetch_one(connection)
        .await
}

/// What [`list`] returns: newest first.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only records that touched this resource name.
    pub resource: Option<String>,
    /// Only records older than this id (the page token of a newest-first list).
    pub before_id: Option<i64>,
    pub limit: i64,
}

/// Records newest first, optionally only those about one resource.
pub async fn list(pool: &PgPool, filter: &ListFilter) -> Result<Vec<Record>, sqlx::Error> {
    let rows = sqlx::query(
        "select id, at, subject, roles, organisation, service, method, resources, outcome, trace_id
           from flatgov_audit
          where ($1::text is null or resources @> array[$1::text])
            and ($2::bigint is null or id < $2)
          order by id desc
          limit $3",
    )
    .bind(filter.resource.as_deref())
    .bind(filter.before_id)
    .bind(filter.limit.max(1))
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|row| {
            let roles: String = row.try_get("roles")?;
            Ok(Record {
                id: row.try_get("id")?,
                at: row.try_get("at")?,
                entry: Entry {
                    subject: row.try_get("subject")?,
                    roles: roles
                        .split(',')
                        .filter(|role| !role.is_empty())
                        .map(str::to_owned)
                        .collect(),
                    organisation: row.try_get("organisation")?,
                    service: row.try_get("service")?,
                    method: row.try_get("method")?,
                    resources: row.try_get("resources")?,
                    outcome: row.try_get("outcome")?,
                    trace_id: row.try_get("trace_id")?,
                },
            })
        })
        .collect()
}

/// The result of checking every chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// Records checked.
    pub records: i64,
    /// The first record (by id) whose chain does not hold, if any.
    pub first_broken: Option<Broken>,
}

/// A record whose chain does not hold, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    pub id: i64,
    pub lane: i16,
    pub sequence: i64,
    pub reason: &'static str,
}

/// Recomputes every record's hash and checks each links to its
/// predecessor (or to the lane's pruning anchor) with no gap.
pub async fn verify(pool: &PgPool) -> Result<Verification, sqlx::Error> {
    let row = sqlx::query(
        "with anchors as (
             select distinct on (lane) lane, sequence, hash
               from flatgov_audit_anchor order by lane, sequence desc
         ),
         checked as (
             select a.id, a.lane, a.sequence,
                    a.hash = flatgov_audit_hash(a.previous_hash, a.lane, a.sequence, a.at,
                        a.subject, a.roles, a.organisation, a.service, a.method,
                        a.resources, a.outcome, a.trace_id) as hash_holds,
                    a.previous_hash = coalesce(lag(a.hash) over lane_order, n.hash, '\\x'::bytea)
                        as link_holds,
                    a.sequence = coalesce(lag(a.sequence) over lane_order, n.sequence, 0) + 1
                        as sequence_holds
               from flatgov_audit a
               left join anchors n on n.lane = a.lane
             window lane_order as (partition by a.lane order by a.sequence)
         )
         select (select count(*) from checked) as records,
                b.id, b.lane, b.sequence, b.hash_holds, b.link_holds
           from (select 1) one
           left join lateral (
               select * from checked
                where not (hash_holds and link_holds and sequence_holds)
                order by id limit 1
           ) b on true",
    )
    .fetch_one(pool)
    .await?;
    let records: i64 = row.try_get("records")?;
    let id: Option<i64> = row.try_get("id")?;
    let first_broken = match id {
        None => None,
        Some(id) => {
            let hash_holds: bool = row.try_get("hash_holds")?;
            let link_holds: bool = row.try_get("link_holds")?;
            Some(Broken {
                id,
                lane: row.try_get("lane")?,
                sequence: row.try_get("sequence")?,
                reason: if !hash_holds {
                    "its fields no longer match its hash: it was changed"
                } else if !link_holds {
                    "it does not link to the record before it: a record was removed or inserted"
                } else {
                    "its sequence skips: a record before it was removed"
                },
            })
        }
    };
    Ok(Verification {
        records,
        first_broken,
    })
}

/// Deletes records older than `keep_days` (at least 180) and returns how
/// many; the chains keep verifying from the anchors left behind.
pub async fn prune(pool: &PgPool, keep_days: u32) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("select flatgov_audit_prune(make_interval(days => $1))")
        .bind(i32::try_from(keep_days).unwrap_or(i32::MAX))
        .fetch_one(pool)
        .await
}
