//! The slim transform network (`architecture = "slim"`): trained, recorded in the model file,
//! resumed bit for bit, extended with a new style, and refused where it does not fit.

use std::path::Path;

use candle_core::Device;
use fauve::Architecture;

use crate::{assert_resume_reproduces, setup, text, train, Setup};

/// The setup's run with the slim network, at 64 px: the last upsampling conv (32 -> 16
/// channels, two 64x64 outputs) then runs through Winograd, forward and backward, so the resume
/// test below covers that path too.
fn slim_args(s: &Setup, run: &Path, steps: usize) -> Vec<String> {
    let mut args = s.args(run, steps);
    args.extend(["--architecture", "slim", "--image-size", "64"].map(String::from));
    args
}

#[test]
fn a_slim_network_trains_resumes_and_is_recorded_in_the_model() -> anyhow::Result<()> {
    let s = setup(5);
    let straight = s.run_dir("straight");
    let o = train(&slim_args(&s, &straight, 8), &[]);
    assert!(o.status.success(), "{}", text(&o));
    let model = fauve::ModelFile::load(&straight.join("model.safetensors"), &Device::Cpu)?;
    assert_eq!(model.metadata.architecture, Architecture::Slim);
    assert_eq!(
        model.tensors["res1.conv1.conv2d.weight"].dims(),
        [64, 64, 3, 3]
    );
    let saved = model.metadata.training.as_ref().expect("training summary");
    assert_eq!(saved["config"]["architecture"], "slim");
    assert_eq!(saved["config"]["image_size"], 64);
    // It stylizes at the input's size.
    let stylizer = fauve::Stylizer::load(straight.join("model.safetensors"), &Device::Cpu)?;
    let photo = fauve::image::DynamicImage::ImageRgb8(fauve_tests::test_photo(41, 30));
    assert_eq!(stylizer.stylize(&photo)?.dimensions(), (41, 30));

    let split = s.run_dir("split");
    let o = train(&slim_args(&s, &split, 5), &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert_resume_reproduces(&straight, &split, 5, 8);
    Ok(())
}

#[test]
fn a_slim_model_extends_as_slim_and_other_widths_are_refused() -> anyhow::Result<()> {
    let s = setup(4);
    let base_run = s.run_dir("base");
    let o = train(&slim_args(&s, &base_run, 2), &[]);
    assert!(o.status.success(), "{}", text(&o));
    let base = base_run.join("model.safetensors").display().to_string();
    let extend = |run: &str, extra: &[&str]| {
        let mut args: Vec<String> = ["--extend", &base, "--style-image"]
            .iter()
            .map(|a| a.to_string())
            .collect();
        args.push(s.photos.join("p01.jpg").display().to_string());
        args.extend(["--steps".into(), "2".into(), "--run-dir".into()]);
        args.push(s.run_dir(run).display().to_string());
        args.extend(extra.iter().map(|a| a.to_string()));
        train(&args, &[])
    };
    let o = extend("ext", &[]);
    assert!(o.status.success(), "{}", text(&o));
    let grown = fauve::ModelFile::load(&s.run_dir("ext").join("model.safetensors"), &Device::Cpu)?;
    assert_eq!(grown.metadata.architecture, Architecture::Slim);
    assert_eq!(grown.metadata.style_names(), ["stripes", "p01"]);
    assert_eq!(grown.tensors["in3.weight"].dims(), [2, 64]);

    let o = extend("wide", &["--architecture", "johnson"]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("the model to extend is slim"),
        "{}",
        text(&o)
    );

    let mut args = s.args(&s.run_dir("bad"), 2);
    args.extend(["--architecture".into(), "wide".into()]);
    let o = train(&args, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("unknown architecture `wide`: use `johnson` or `slim`"),
        "{}",
        text(&o)
    );
    Ok(())
}
