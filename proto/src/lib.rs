//! The protobuf contracts of flatgov: every service's API and every event,
//! generated once for the whole workspace (see `build.rs`).
//!
//! Messages carrying the `(flatgov.events.v1.subject)` option implement
//! [`Event`], which is how the messaging crate knows a payload's subject and
//! CloudEvents type without any service keeping its own copy.

/// Generated code, one module per proto package. Clippy does not judge
/// generated code.
#[allow(clippy::all)]
pub mod flatgov {
    pub mod r#type {
        pub mod v1 {
            tonic::include_proto!("flatgov.r#type.v1");
        }
    }
    pub mod testing {
        pub mod v1 {
            tonic::include_proto!("flatgov.testing.v1");
        }
    }
    pub mod audit {
        pub mod v1 {
            tonic::include_proto!("flatgov.audit.v1");
        }
    }
    pub mod messaging {
        pub mod v1 {
            tonic::include_proto!("flatgov.messaging.v1");
        }
    }
    pub mod blocks {
        pub mod v1 {
            tonic::include_proto!("flatgov.blocks.v1");
        }
    }
    pub mod duties {
        pub mod v1 {
            tonic::include_proto!("flatgov.duties.v1");
        }
    }
    pub mod cases {
        pub mod v1 {
            tonic::include_proto!("flatgov.cases.v1");
        }
    }
    pub mod enforcement {
        pub mod v1 {
            tonic::include_proto!("flatgov.enforcement.v1");
        }
    }
    pub mod federation {
        pub mod v1 {
            tonic::include_proto!("flatgov.federation.v1");
        }
    }
    pub mod notices {
        pub mod v1 {
            tonic::include_proto!("flatgov.notices.v1");
        }
    }
    pub mod mediation {
        pub mod v1 {
            tonic::include_proto!("flatgov.mediation.v1");
        }
    }
    pub mod errands {
        pub mod v1 {
            tonic::include_proto!("flatgov.errands.v1");
        }
    }
}

pub use flatgov::{
    audit, blocks, cases, duties, enforcement, errands, federation, mediation, messaging, notices,
    testing,
};

/// Every flatgov descriptor (and the well-known types they import), for
/// server reflection and for decoding events without generated code.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/flatgov_descriptor.bin"));

/// An integration event: a protobuf message published on one NATS subject.
pub trait Event: prost::Message + Default + Send + Sync + 'static {
    /// `flatgov.<svc>.<entity>.<verb>`, from the message's subject option.
    const SUBJECT: &'static str;
    /// The message's full protobuf name, used as the CloudEvents `type`.
    const TYPE: &'static str;
}

include!(concat!(env!("OUT_DIR"), "/events.rs"));
