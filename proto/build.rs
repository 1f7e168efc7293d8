//! Compiles `motie/registry/v1/*.proto` with protox (no system `protoc` needed) and generates
//! the tonic client and server code. The encoded `FileDescriptorSet` (with the vendored
//! `google/api` files and the custom options, which `prost-types` would drop) is written next to
//! the generated code, for gRPC reflection and for the `annotations` module.

use std::{env, fs, io, path::PathBuf};

const PROTOS: &[&str] = &[
    "motie/registry/v1/common.proto",
    "motie/registry/v1/options.proto",
    "motie/registry/v1/policy_goal.proto",
    "motie/registry/v1/policy_goal_service.proto",
    "motie/registry/v1/trade_partner.proto",
    "motie/registry/v1/trade_partner_service.proto",
    "motie/registry/v1/agreement.proto",
    "motie/registry/v1/agreement_service.proto",
    "motie/registry/v1/risk.proto",
    "motie/registry/v1/risk_service.proto",
    "motie/registry/v1/change_feed_service.proto",
    "motie/registry/v1/admin_service.proto",
    "motie/registry/v1/trade_analysis.proto",
    "motie/registry/v1/trade_analysis_service.proto",
];

fn main() -> io::Result<()> {
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    println!("cargo:rerun-if-changed=google");
    let mut compiler = protox::Compiler::new(["."]).map_err(io::Error::other)?;
    compiler
        .include_source_info(true)
        .include_imports(true)
        .open_files(PROTOS)
        .map_err(io::Error::other)?;
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").ok_or_else(|| io::Error::other("OUT_DIR not set"))?);
    // Encoded by protox itself so that extension options (google.api.*, min_role) survive.
    fs::write(
        out_dir.join("registry_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;
    let fds = compiler.file_descriptor_set();
    tonic_prost_build::configure()
        // A goal's latest check-in is boxed: a PolicyGoal grows by a pointer, not by a
        // whole CheckIn, wherever goals are held.
        .boxed(".motie.registry.v1.PolicyGoal.latest_check_in")
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)
}
