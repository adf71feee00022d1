//! The block registry against real PostgreSQL and NATS, over real gRPC.

mod bad_input;
mod common;
mod coordinates;
mod demo;
mod generations;
mod hierarchy;
mod permissions;
mod replicas;
mod teams;
mod trust;
