//! SQL. Functions take the caller's connection (usually a transaction), so
//! a change, its events and its audit record commit together, and answer
//! with [`StoreError`], which says what the store was doing.

mod advisers;
mod disputes;
mod indicators;

pub use advisers::*;
pub use disputes::*;
pub use indicators::*;

pub use flatgov_grpc::store::{DatabaseContext, StoreError};
