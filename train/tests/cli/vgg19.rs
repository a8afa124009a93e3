//! The loss network as a choice: VGG19 where its file is, its default layers stored with the
//! run and the model, and VGG16 where only that is there.

use std::path::Path;

use fauve_tests::fixture;

use super::{setup, text, train};

/// `args` with the `--vgg` pair removed (so the default applies) or its value replaced.
fn with_vgg(mut args: Vec<String>, vgg: Option<&Path>) -> Vec<String> {
    let i = args.iter().position(|a| a == "--vgg").expect("--vgg");
    match vgg {
        Some(p) => args[i + 1] = p.display().to_string(),
        None => {
            args.drain(i..i + 2);
        }
    }
    args
}

fn stored_config(run: &Path) -> toml::Table {
    std::fs::read_to_string(run.join("config.toml"))
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn vgg19_trains_with_its_default_layers_and_says_so() -> anyhow::Result<()> {
    let s = setup(3);
    let run = s.run_dir("run19");
    let vgg = fixture("vgg19_tiny.safetensors");
    let o = train(&with_vgg(s.args(&run, 4), Some(&vgg)), &[]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("loss network: VGG19"), "{t}");
    let cfg = stored_config(&run);
    assert_eq!(cfg["content_layer"].as_str(), Some("relu4_2"));
    let style: Vec<&str> = cfg["style_layers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(
        style,
        ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
    );
    let model = fauve::ModelFile::load(&run.join("model.safetensors"), &candle_core::Device::Cpu)?;
    let training = model.metadata.training.expect("training metadata");
    assert_eq!(training["vgg_network"], "vgg19", "{training}");
    assert_eq!(
        training["config"]["vgg"].as_str(),
        Some(vgg.to_str().unwrap())
    );

    // Scoring the model later keeps the objective it was trained with.
    let o = std::process::Command::new(super::FAUVE_TRAIN)
        .args(["eval", "--model"])
        .arg(run.join("model.safetensors"))
        .arg("--photos")
        .arg(&s.photos)
        .args(["--image-size", "32"])
        .output()?;
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("VGG19, content relu4_2, style relu1_1 relu2_1 relu3_1 relu4_1 relu5_1"),
        "{t}"
    );

    // A layer only VGG19 has is accepted there.
    let run = s.run_dir("run19b");
    let mut args = with_vgg(s.args(&run, 1), Some(&vgg));
    args.extend(["--style-layers".into(), "[\"relu3_4\", \"relu5_4\"]".into()]);
    let o = train(&args, &[]);
    assert!(o.status.success(), "{}", text(&o));
    Ok(())
}

#[test]
fn the_default_vgg_is_vgg19_where_it_was_fetched_else_vgg16() -> anyhow::Result<()> {
    let s = setup(2);
    for (files, expected) in [
        (
            &["vgg16", "vgg19"][..],
            ("models/vgg19.safetensors", "relu1_1"),
        ),
        (&["vgg16"][..], ("models/vgg16.safetensors", "relu1_2")),
    ] {
        let cwd = tempfile::tempdir()?;
        std::fs::create_dir(cwd.path().join("models"))?;
        for f in files {
            let to = cwd.path().join(format!("models/{f}.safetensors"));
            std::fs::copy(fixture(&format!("{f}_tiny.safetensors")), to)?;
        }
        let run = s.run_dir(&format!("run-{}", files.len()));
        let o = std::process::Command::new(super::FAUVE_TRAIN)
            .args(with_vgg(s.args(&run, 1), None))
            .current_dir(cwd.path())
            .output()?;
        assert!(o.status.success(), "{}", text(&o));
        let cfg = stored_config(&run);
        assert_eq!(cfg["vgg"].as_str(), Some(expected.0));
        assert_eq!(cfg["style_layers"][0].as_str(), Some(expected.1));
    }
    Ok(())
}

#[test]
fn a_vgg16_run_resumes_with_vgg16_after_vgg19_is_fetched() -> anyhow::Result<()> {
    let s = setup(2);
    let cwd = tempfile::tempdir()?;
    let models = cwd.path().join("models");
    std::fs::create_dir(&models)?;
    std::fs::copy(
        fixture("vgg16_tiny.safetensors"),
        models.join("vgg16.safetensors"),
    )?;
    let run = s.run_dir("run16");
    let fauve_train = |args: Vec<String>| {
        std::process::Command::new(super::FAUVE_TRAIN)
            .args(args)
            .current_dir(cwd.path())
            .output()
    };
    let o = fauve_train(with_vgg(s.args(&run, 4), None))?;
    assert!(o.status.success(), "{}", text(&o));
    // Interrupted at step 4 of a longer run, as far as resume is concerned.
    std::fs::remove_file(run.join("model.safetensors"))?;
    std::fs::copy(
        fixture("vgg19_tiny.safetensors"),
        models.join("vgg19.safetensors"),
    )?;
    let o = fauve_train(super::resume_args(&run, 6))?;
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("loss network: VGG16"), "{t}");
    assert_eq!(
        stored_config(&run)["vgg"].as_str(),
        Some("models/vgg16.safetensors")
    );
    Ok(())
}
