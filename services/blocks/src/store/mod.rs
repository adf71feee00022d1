//! SQL. Every function takes a connection (or a transaction, through `&mut *tx`)
//! so callers decide what commits together; none of them commits by itself.
//!
//! Queries are plain `sqlx::query` strings checked by the integration tests
//! against real PostgreSQL (see docs/architecture.md).

pub mod generations;
pub mod hierarchy;
pub mod staff;
pub mod state;
pub mod teams;

/// How many rows one multi-row statement inserts: keeps each statement's
/// parameters well inside PostgreSQL's limits and memory bounded at 1M blocks.
pub(crate) const INSERT_CHUNK: usize = 5_000;
