//! SQL. Functions take the caller's connection (usually a transaction), so
//! a change, its rules revision and its events commit together, and
//! answer with [`StoreError`], which says what the store was doing.

use sqlx::{PgConnection, PgPool};

pub mod announcements;
pub mod assessments;
pub mod departments;
pub mod exceptions;
pub mod lists;
pub mod matters;
pub mod opinions;
pub mod refusals;
pub mod snapshot;

pub use flatgov_grpc::store::{DatabaseContext, StoreError};

/// A transaction on the service's database.
pub type Transaction = sqlx::Transaction<'static, sqlx::Postgres>;

/// Begins a transaction for `context` (what it will do).
pub async fn begin(pool: &PgPool, context: &'static str) -> Result<Transaction, StoreError> {
    pool.begin().await.context(context)
}

/// Commits what `transaction` did for `context`.
pub async fn commit(transaction: Transaction, context: &'static str) -> Result<(), StoreError> {
    transaction.commit().await.context(context)
}

/// Abandons what `transaction` did for `context`.
pub async fn roll_back(transaction: Transaction, context: &'static str) -> Result<(), StoreError> {
    transaction.rollback().await.context(context)
}

/// Serialises every write to the rules (they are rare), so each write
/// validates against the state it replaces. Taken inside the writer's
/// transaction and released at its end.
pub async fn lock_rules(connection: &mut PgConnection) -> Result<(), StoreError> {
    // "duties" in ASCII: the one advisory lock this service takes.
    const RULES_LOCK: i64 = 0x0000_6475_7469_6573;
    sqlx::query("select pg_advisory_xact_lock($1)")
        .bind(RULES_LOCK)
        .execute(connection)
        .await
        .context("locking the rules")?;
    Ok(())
}

/// Marks the rules changed; call in the transaction that changes them.
pub async fn bump_revision(connection: &mut PgConnection) -> Result<i64, StoreError> {
    sqlx::query_scalar("update rules_revision set revision = revision + 1 returning revision")
        .fetch_one(connection)
        .await
        .context("recording the rules revision")
}

/// The revision the rules are at, as `connection` sees them.
pub async fn rules_revision(connection: impl sqlx::PgExecutor<'_>) -> Result<i64, StoreError> {
    sqlx::query_scalar("select revision from rules_revision")
        .fetch_one(connection)
        .await
        .context("reading the rules revision")
}
