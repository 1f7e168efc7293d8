//! Generated Protobuf and gRPC types of the Policy & Partner Registry, package
//! `motie.registry.v1`.
//!
//! Both the server (`registry-server`) and the SDK (`registry-client`) depend on this crate,
//! so the wire types are defined exactly once.

#![allow(clippy::all, missing_docs, unreachable_pub)]

/// `motie.registry.v1`: resources, requests and service stubs.
pub mod v1 {
    tonic::include_proto!("motie.registry.v1");
}

/// Encoded `FileDescriptorSet` of every registry proto file and its imports (custom options
/// included), for gRPC server reflection and [`annotations`].
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/registry_descriptor.bin"));

pub mod annotations;

pub use prost_types;
