//! Model files: the metadata round trip, and every kind of wrong file giving an error that
//! names the file and the first offending key instead of a panic.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use fauve::{save_model_file, Error, ModelFile, ModelMetadata, Precision, Vgg};

use fauve_tests::{fixture, generated_transformer, load_fixture, rel_l2, write_safetensors};

fn fauve_header() -> HashMap<String, String> {
    HashMap::from([
        ("format".to_string(), fauve::FORMAT_NAME.to_string()),
        ("format_version".to_string(), "1".to_string()),
    ])
}

fn load_err(path: &Path) -> (Error, String) {
    let err = ModelFile::load(path, &Device::Cpu).expect_err("load must fail");
    let msg = err.to_string();
    assert!(
        msg.contains(&path.display().to_string()),
        "message must name the file: {msg}"
    );
    (err, msg)
}

fn write_model(dir: &Path, name: &str, tensors: &HashMap<String, Tensor>) -> PathBuf {
    let path = dir.join(name);
    write_safetensors(&path, tensors, Some(fauve_header()));
    path
}

#[test]
fn round_trip_keeps_tensors_and_metadata() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("mosaic.safetensors");
    let tensors = generated_transformer();
    let training = serde_json::json!({"steps": 40000, "losses": {"content": 1.5}});
    let meta = ModelMetadata::new(Some("mosaic".into()), Some(training.clone()));
    save_model_file(&path, &tensors, &meta)?;

    let loaded = ModelFile::load(&path, &Device::Cpu)?;
    assert_eq!(loaded.metadata, meta);
    assert_eq!(loaded.metadata.training, Some(training));
    assert_eq!(loaded.tensors.len(), tensors.len());
    for (k, t) in &tensors {
        assert_eq!(rel_l2(&loaded.tensors[k], t), 0.0, "{k}");
    }
    // No temporary file is left beside it.
    assert_eq!(std::fs::read_dir(dir.path())?.count(), 1);
    Ok(())
}

#[test]
fn half_precision_files_load_as_f32() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let half: HashMap<_, _> = generated_transformer()
        .into_iter()
        .map(|(k, t)| (k, t.to_dtype(DType::F16).unwrap()))
        .collect();
    let loaded = ModelFile::load(
        &write_model(dir.path(), "h.safetensors", &half),
        &Device::Cpu,
    )?;
    assert_eq!(loaded.tensors["conv1.conv2d.weight"].dtype(), DType::F32);
    Ok(())
}

#[test]
fn other_tools_metadata_loads_as_default_architecture() -> anyhow::Result<()> {
    // safetensors.torch.save_model writes {"format": "pt"}.
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("pt.safetensors");
    let meta = HashMap::from([("format".to_string(), "pt".to_string())]);
    write_safetensors(&path, &generated_transformer(), Some(meta));
    let loaded = ModelFile::load(&path, &Device::Cpu)?;
    assert_eq!(loaded.metadata.architecture, fauve::Architecture::Johnson);
    assert!(!loaded.metadata.from_fauve);
    Ok(())
}

#[test]
fn a_text_file_is_not_safetensors() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("notes.safetensors");
    std::fs::write(&path, "this is not a model")?;
    let (err, _) = load_err(&path);
    assert!(matches!(err, Error::NotSafetensors { .. }), "{err:?}");
    Ok(())
}

#[test]
fn empty_and_truncated_files_are_refused() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let good = write_model(dir.path(), "good.safetensors", &generated_transformer());
    let bytes = std::fs::read(&good)?;
    for (name, len) in [
        ("empty", 0),
        ("header-only", 8),
        ("truncated", bytes.len() - 1000),
    ] {
        let path = dir.path().join(format!("{name}.safetensors"));
        std::fs::write(&path, &bytes[..len])?;
        let (err, msg) = load_err(&path);
        assert!(matches!(err, Error::NotSafetensors { .. }), "{name}: {msg}");
    }
    Ok(())
}

#[test]
fn a_missing_tensor_is_named() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut tensors = generated_transformer();
    tensors.remove("res3.conv2.conv2d.weight");
    tensors.remove("in5.bias");
    let (_, msg) = load_err(&write_model(dir.path(), "m.safetensors", &tensors));
    // The first missing key in architecture order is reported.
    assert!(
        msg.contains("missing tensor `res3.conv2.conv2d.weight`"),
        "{msg}"
    );
    Ok(())
}

#[test]
fn a_misshaped_tensor_is_named_with_both_shapes() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut tensors = generated_transformer();
    let t = tensors["conv2.conv2d.weight"]
        .transpose(0, 1)?
        .contiguous()?;
    tensors.insert("conv2.conv2d.weight".into(), t);
    let (err, msg) = load_err(&write_model(dir.path(), "m.safetensors", &tensors));
    assert!(matches!(err, Error::WrongShape { ref key, .. } if key == "conv2.conv2d.weight"));
    assert!(
        msg.contains("[32, 64, 3, 3]") && msg.contains("[64, 32, 3, 3]"),
        "{msg}"
    );
    Ok(())
}

#[test]
fn an_integer_tensor_is_refused() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut tensors = generated_transformer();
    tensors.insert(
        "in1.bias".into(),
        Tensor::zeros(32, DType::I64, &Device::Cpu)?,
    );
    let (err, _) = load_err(&write_model(dir.path(), "m.safetensors", &tensors));
    assert!(
        matches!(err, Error::WrongDtype { ref key, .. } if key == "in1.bias"),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn newer_format_and_unknown_architecture_are_refused() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let tensors = generated_transformer();
    let path = dir.path().join("new.safetensors");
    let mut meta = fauve_header();
    meta.insert("format_version".into(), "99".into());
    write_safetensors(&path, &tensors, Some(meta));
    let (_, msg) = load_err(&path);
    assert!(msg.contains("newer Fauve"), "{msg}");

    let mut meta = fauve_header();
    meta.insert("architecture".into(), "unet".into());
    write_safetensors(&path, &tensors, Some(meta));
    let (_, msg) = load_err(&path);
    assert!(msg.contains("unknown architecture `unet`"), "{msg}");

    let mut meta = fauve_header();
    meta.insert("training".into(), "{not json".into());
    write_safetensors(&path, &tensors, Some(meta));
    let (_, msg) = load_err(&path);
    assert!(msg.contains("`training` is not valid JSON"), "{msg}");
    Ok(())
}

#[test]
fn saving_an_incomplete_model_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut tensors = generated_transformer();
    tensors.remove("deconv3.conv2d.bias");
    let path = dir.path().join("x.safetensors");
    let err = save_model_file(&path, &tensors, &ModelMetadata::default()).unwrap_err();
    assert!(err.to_string().contains("deconv3.conv2d.bias"), "{err}");
    assert!(!path.exists());
}

#[test]
fn vgg_without_preprocess_metadata_is_refused_with_a_fix() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("vgg.safetensors");
    write_safetensors(&path, &load_fixture("vgg16_tiny.safetensors"), None);
    let err = Vgg::load(&path, &Device::Cpu, Precision::F32)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no `preprocess` metadata"), "{err}");
    assert!(err.contains("scripts/fetch-vgg19.sh"), "{err}");

    let meta = HashMap::from([("preprocess".to_string(), "imagenet".to_string())]);
    write_safetensors(&path, &load_fixture("vgg16_tiny.safetensors"), Some(meta));
    let err = Vgg::load(&path, &Device::Cpu, Precision::F32)
        .unwrap_err()
        .to_string();
    assert!(err.contains("`imagenet`"), "{err}");
    Ok(())
}

#[test]
fn vgg_with_a_missing_layer_is_named() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut tensors = load_fixture("vgg16_tiny.safetensors");
    tensors.remove("features.12.weight");
    let path = dir.path().join("vgg.safetensors");
    let meta = HashMap::from([("preprocess".to_string(), "caffe_bgr".to_string())]);
    write_safetensors(&path, &tensors, Some(meta));
    let err = Vgg::load(&path, &Device::Cpu, Precision::F32)
        .unwrap_err()
        .to_string();
    assert!(err.contains("`features.12.weight`"), "{err}");
    assert!(Vgg::load(
        &fixture("vgg16_tiny.safetensors"),
        &Device::Cpu,
        Precision::F32
    )
    .is_ok());
    Ok(())
}

#[test]
fn vgg_builds_from_a_var_builder_and_its_module_output_is_the_last_tap() -> anyhow::Result<()> {
    use candle_core::Module;
    let tensors = load_fixture("vgg16_tiny.safetensors");
    let vb = candle_nn::VarBuilder::from_tensors(tensors.clone(), DType::F32, &Device::Cpu);
    let built = Vgg::new(
        vb,
        fauve::VggNet::Vgg16,
        fauve::Preprocess::CaffeBgr,
        Precision::F32,
    )?;
    let loaded = Vgg::load(
        &fixture("vgg16_tiny.safetensors"),
        &Device::Cpu,
        Precision::F32,
    )?;
    let xs = Tensor::rand(0f32, 255., (1, 3, 24, 20), &Device::Cpu)?;
    let taps = loaded.features(&xs)?.taps;
    assert_eq!(rel_l2(&built.forward(&xs)?, &taps[3]), 0.0);

    // A conv of the wrong shape is named.
    let mut bad = tensors;
    bad.insert(
        "features.2.weight".into(),
        Tensor::zeros((4, 5, 3, 3), DType::F32, &Device::Cpu)?,
    );
    let vb = candle_nn::VarBuilder::from_tensors(bad, DType::F32, &Device::Cpu);
    let err = Vgg::new(
        vb,
        fauve::VggNet::Vgg16,
        fauve::Preprocess::CaffeBgr,
        Precision::F32,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("`features.2.weight`"), "{err}");
    Ok(())
}

#[test]
fn a_multi_style_header_must_list_two_unique_styles_matching_the_tables() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = fauve_tests::write_generated_multi_style(dir.path(), &["a", "b"]);
    let file = fauve::SafetensorsFile::open(&path)?;
    let tensors = candle_core::safetensors::load(&path, &Device::Cpu)?;
    let header = file.metadata()?;
    let with_styles = |styles: Option<&str>| {
        let mut h = header.clone();
        match styles {
            Some(s) => h.insert("styles".into(), s.into()),
            None => h.remove("styles"),
        };
        let bad = dir.path().join("bad.safetensors");
        write_safetensors(&bad, &tensors, Some(h));
        load_err(&bad).1
    };
    let one = r#"[{"name": "a"}]"#;
    assert!(with_styles(Some(one)).contains("lists 1 style(s)"));
    let twice = r#"[{"name": "a"}, {"name": "a"}]"#;
    assert!(with_styles(Some(twice)).contains("names `a` twice"));
    assert!(with_styles(Some("[1, 2]")).contains("not a list of styles"));
    let three = r#"[{"name": "a"}, {"name": "b"}, {"name": "c"}]"#;
    assert!(with_styles(Some(three)).contains("expected [3, 32]"));
    // Without the list, the [2, C] tables are not a one-style model's.
    assert!(with_styles(None).contains("expected [32]"));
    Ok(())
}

/// A device or stream is read only as far as its header declares: `/dev/zero` (an endless
/// stream whose header length is 0) is refused at once instead of read until memory runs out
/// (issue 37, finding 6).
#[cfg(unix)]
#[test]
fn an_endless_stream_is_refused_after_its_header() {
    let (err, msg) = load_err(std::path::Path::new("/dev/zero"));
    assert!(matches!(err, Error::NotSafetensors { .. }), "{msg}");
}

/// A repeated name among many styles is found and named (issue 37, finding 6: the check
/// compared every pair, 4 s for 50,000 names; it now keeps a set).
#[test]
fn style_names_are_checked_for_repeats_in_linear_time() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let names: Vec<String> = (0..50_000).map(|i| format!("style{i}")).collect();
    let with_repeat = |repeat: bool| -> anyhow::Result<String> {
        let mut list = names.clone();
        if repeat {
            list.push("style7".into());
        }
        let styles: Vec<serde_json::Value> = list
            .iter()
            .map(|n| serde_json::json!({ "name": n }))
            .collect();
        let path = dir.path().join(format!("many-{repeat}.safetensors"));
        let meta = HashMap::from([
            ("format".to_string(), "fauve-style-model".to_string()),
            ("format_version".to_string(), "2".to_string()),
            ("styles".to_string(), serde_json::to_string(&styles)?),
        ]);
        write_safetensors(&path, &generated_transformer(), Some(meta));
        Ok(load_err(&path).1)
    };
    let msg = with_repeat(true)?;
    assert!(msg.contains("names `style7` twice"), "{msg}");
    Ok(())
}
