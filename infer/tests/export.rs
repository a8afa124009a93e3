//! `fauve-export` end to end: the file it writes, where, and its errors. (The exported graph
//! is checked against Fauve's forward pass in onnxruntime by scripts/check-onnx.sh.)

use std::path::Path;
use std::process::{Command, Output};

use fauve_tests::{generated_transformer, text};

/// The `fauve-export` that cargo built for this test.
const FAUVE_EXPORT: &str = env!("CARGO_BIN_EXE_fauve-export");

fn export(args: &[&Path]) -> Output {
    Command::new(FAUVE_EXPORT)
        .args(args)
        .output()
        .expect("fauve-export runs")
}

#[test]
fn exports_beside_the_model_or_where_asked_and_names_what_fails() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let model = dir.path().join("starry.safetensors");
    let meta = fauve::ModelMetadata::new(Some("starry".into()), None);
    fauve::save_model_file(&model, &generated_transformer(), &meta)?;

    // Default: the model's name with .onnx; the same bytes as the library writes.
    let o = export(&[&model]);
    assert!(o.status.success(), "{}", text(&o));
    let beside = dir.path().join("starry.onnx");
    let written = std::fs::read(&beside)?;
    let loaded = fauve::ModelFile::load(&model, &fauve::candle_core::Device::Cpu)?;
    assert_eq!(written, fauve::onnx_bytes(&loaded)?);
    assert!(text(&o).contains("ONNX opset 13"), "{}", text(&o));

    let named = dir.path().join("out").join("s.onnx");
    std::fs::create_dir_all(named.parent().unwrap())?;
    let o = export(&[&model, Path::new("-o"), &named]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(std::fs::read(&named)?, written);

    // A missing model, and an output that would overwrite the model: exit 1, nothing written.
    let missing = dir.path().join("nope.safetensors");
    let o = export(&[&missing]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("cannot load the model"), "{}", text(&o));
    assert!(!dir.path().join("nope.onnx").exists());
    let before = std::fs::read(&model)?;
    // The same file however it is spelled: as given, through `./`, through `..`, a hard link.
    let hard = dir.path().join("hard.safetensors");
    std::fs::hard_link(&model, &hard)?;
    let dotted = dir.path().join("out/../starry.safetensors");
    let relative = Command::new(FAUVE_EXPORT)
        .current_dir(dir.path())
        .args(["starry.safetensors", "-o", "./starry.safetensors"])
        .output()?;
    for o in [
        export(&[&model, Path::new("-o"), &model]),
        export(&[&model, Path::new("-o"), &dotted]),
        export(&[&model, Path::new("-o"), &hard]),
        relative,
    ] {
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(
            text(&o).contains("would overwrite the model"),
            "{}",
            text(&o)
        );
    }
    assert_eq!(std::fs::read(&model)?, before);
    Ok(())
}

/// The rename that puts a written file in place is itself made durable: the file is flushed,
/// renamed, and then its folder flushed (seen with strace; every file Fauve writes,
/// checkpoints included, goes through the same atomic write).
#[test]
#[ignore = "needs strace (apt install strace): run by `scripts/test.sh --tools`"]
fn a_written_file_and_its_rename_are_flushed() -> anyhow::Result<()> {
    let traced = Command::new("strace").arg("-V").output();
    assert!(
        traced.is_ok_and(|o| o.status.success()),
        "this test needs strace (apt install strace)"
    );
    let dir = tempfile::tempdir()?;
    let model = dir.path().join("m.safetensors");
    fauve::save_model_file(
        &model,
        &generated_transformer(),
        &fauve::ModelMetadata::new(None, None),
    )?;
    let log = dir.path().join("trace");
    let o = Command::new("strace")
        .args(["-f", "-e", "trace=fsync,rename,renameat,renameat2", "-o"])
        .arg(&log)
        .arg(FAUVE_EXPORT)
        .arg(&model)
        .output()?;
    assert!(o.status.success(), "{}", text(&o));
    let trace = std::fs::read_to_string(&log)?;
    let calls: Vec<&str> = trace
        .lines()
        .filter_map(|l| ["fsync(", "rename"].into_iter().find(|c| l.contains(c)))
        .collect();
    let rename = calls
        .iter()
        .position(|c| c.starts_with("rename"))
        .expect("a rename");
    assert!(
        calls[..rename].contains(&"fsync("),
        "the file is flushed first: {trace}"
    );
    assert!(
        calls[rename..].contains(&"fsync("),
        "the folder is flushed after: {trace}"
    );
    Ok(())
}
