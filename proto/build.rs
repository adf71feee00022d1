//! Compiles every `.proto` under `flatgov/` with protox (no protoc needed),
//! writes the descriptor set for server reflection, and turns each message
//! marked with `(flatgov.events.v1.subject)` into an `Event` implementation.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    println!("cargo:rerun-if-changed={}", root.join("flatgov").display());

    let mut proto_files = Vec::new();
    collect_proto_files(&root.join("flatgov"), &mut proto_files)?;
    proto_files.sort();
    for file in &proto_files {
        println!("cargo:rerun-if-changed={}", file.display());
    }

    let mut compiler = protox::Compiler::new([&root])?;
    compiler.include_imports(true).include_source_info(true);
    compiler.open_files(&proto_files)?;
    let descriptor_pool = compiler.descriptor_pool();
    let file_descriptor_set = compiler.file_descriptor_set();
    // Encoded by protox itself so custom options (the event subjects) survive;
    // prost_types would drop them as unknown fields.
    std::fs::write(
        out_dir.join("flatgov_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;

    std::fs::write(out_dir.join("events.rs"), event_impls(&descriptor_pool)?)?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(file_descriptor_set)?;
    Ok(())
}

fn collect_proto_files(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_proto_files(&path, found)?;
        } else if path.extension().is_some_and(|ext| ext == "proto") {
            found.push(path);
        }
    }
    Ok(())
}

/// One `impl Event` per message carrying the subject option. The subject is
/// checked here so a malformed one fails the build, not a publish.
fn event_impls(pool: &prost_reflect::DescriptorPool) -> Result<String, Box<dyn std::error::Error>> {
    let subject_option = pool
        .get_extension_by_name("flatgov.events.v1.subject")
        .ok_or("flatgov/events/v1/options.proto must define the subject option")?;
    let mut code = String::new();
    for message in pool.all_messages() {
        let options = message.options();
        if !options.has_extension(&subject_option) {
            continue;
        }
        let subject = options.get_extension(&subject_option);
        let subject = subject.as_str().ok_or("subject option must be a string")?;
        let full_name = message.full_name();
        check_subject(full_name, subject)?;
        let rust_path = rust_path_of(message.package_name(), message.name());
        writeln!(
            code,
            "impl crate::Event for {rust_path} {{\n    const SUBJECT: &'static str = {subject:?};\n    const TYPE: &'static str = {full_name:?};\n}}"
        )?;
    }
    Ok(code)
}

/// `flatgov.<svc>.<entity>.<verb>`, lower snake case, where `<svc>` is the
/// message's own package: a service only publishes on its own subjects.
fn check_subject(full_name: &str, subject: &str) -> Result<(), String> {
    let tokens: Vec<&str> = subject.split('.').collect();
    let package_service = full_name.split('.').nth(1).unwrap_or_default();
    let well_formed = tokens.len() == 4
        && tokens[0] == "flatgov"
        && tokens[1] == package_service
        && tokens.iter().all(|token| {
            !token.is_empty()
                && token
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        });
    if well_formed {
        Ok(())
    } else {
        Err(format!(
            "{full_name}: subject {subject:?} must be flatgov.{package_service}.<entity>.<verb> in lower snake case"
        ))
    }
}

/// `flatgov.cases.v1` + `CaseDispatched` → `crate::flatgov::cases::v1::CaseDispatched`.
fn rust_path_of(package: &str, message_name: &str) -> String {
    let mut path = String::from("crate");
    for segment in package.split('.') {
        path.push_str("::");
        if segment == "type" {
            path.push_str("r#type");
        } else {
            path.push_str(segment);
        }
    }
    path.push_str("::");
    path.push_str(message_name);
    path
}
