//! Generates the gRPC code from ../proto with the vendored protoc, so a fresh
//! machine needs no system protobuf compiler.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = PathBuf::from("../proto");
    let protos = [
        "seat/v1/common.proto",
        "seat/v1/booking.proto",
        "seat/v1/admin.proto",
        "seat/v1/feed.proto",
        "seat/v1/waitlist.proto",
        "seat/v1/peer.proto",
    ]
    .map(|file| proto_root.join(file));
    for proto in &protos {
        println!("cargo:rerun-if-changed={}", proto.display());
    }
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("seat_v1_descriptor.bin"))
        .type_attribute(".", "#[derive(serde::Serialize)]")
        // Undecodable requests are the sender's fault: INVALID_ARGUMENT, not INTERNAL.
        .codec_path("crate::codec::StrictCodec")
        .compile_with_config(config, &protos, &[proto_root])?;
    Ok(())
}
