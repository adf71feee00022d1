//! SQL. Functions take a connection (or a transaction's connection) and
//! return rows; the transport turns rows into protos.

pub mod activities;
pub mod indicators;
pub mod innovation;
pub mod organisations;
pub mod proposals;
pub mod referrals;
pub mod rights;
pub mod sharing;
pub mod support;
