//! Compiles `motie/registry/v1/*.proto` with protox (no system `protoc` needed) and generates
//! the tonic client and server code. The encoded `FileDescriptorSet` is written next to the
//! generated code so the server can offer gRPC reflection.

use std::{env, fs, io, path::PathBuf};

use prost::Message;

const PROTOS: &[&str] = &[
    "motie/registry/v1/common.proto",
    "motie/registry/v1/policy_goal.proto",
    "motie/registry/v1/policy_goal_service.proto",
    "motie/registry/v1/trade_partner.proto",
    "motie/registry/v1/trade_partner_service.proto",
    "motie/registry/v1/change_feed_service.proto",
    "motie/registry/v1/admin_service.proto",
];

fn main() -> io::Result<()> {
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    let fds = protox::compile(PROTOS, ["."]).map_err(io::Error::other)?;
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").ok_or_else(|| io::Error::other("OUT_DIR not set"))?);
    fs::write(out_dir.join("registry_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)
}
