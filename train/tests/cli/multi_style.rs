//! Several paintings in one network: training, per-style logs and scores, resume, and
//! `--extend` adding a style without touching the others.

use std::path::{Path, PathBuf};
use std::process::Command;

use candle_core::Device;
use fauve::image::{Rgb, RgbImage};

use crate::{assert_resume_reproduces, setup, text, train, Setup, FAUVE_TRAIN};

/// A second painting beside the setup's stripes: green and red dots.
fn dots(s: &Setup) -> PathBuf {
    let path = s.dir.path().join("dots.png");
    RgbImage::from_fn(44, 36, |x, y| {
        if (x % 9 < 4) && (y % 7 < 3) {
            Rgb([200, 30, 40])
        } else {
            Rgb([30, 150, 60])
        }
    })
    .save(&path)
    .unwrap();
    path
}

/// A third painting, for extending a two-style model: a red-blue gradient.
pub fn third_painting(s: &Setup) -> PathBuf {
    let path = s.dir.path().join("third.png");
    RgbImage::from_fn(40, 40, |x, y| Rgb([(x * 6) as u8, 90, (y * 6) as u8]))
        .save(&path)
        .unwrap();
    path
}

/// The setup's arguments with both paintings.
pub fn two_style_args(s: &Setup, run: &Path, steps: usize) -> Vec<String> {
    let mut args = s.args(run, steps);
    let list = format!("[\"{}\", \"{}\"]", s.style.display(), dots(s).display());
    args.extend(["--style-images".into(), list]);
    args
}

fn norm_rows(model: &Path, key: &str) -> Vec<Vec<f32>> {
    let m = fauve::ModelFile::load(model, &Device::Cpu).expect("model loads");
    m.tensors[key].to_vec2::<f32>().expect("a [n, C] table")
}

#[test]
fn two_paintings_train_into_one_model_with_a_score_for_each() -> anyhow::Result<()> {
    let s = setup(4);
    let run = s.run_dir("run");
    let mut args = two_style_args(&s, &run, 4);
    let photos = s.photos.display().to_string();
    args.extend([
        "--eval-dir".into(),
        photos.clone(),
        "--eval-every".into(),
        "4".into(),
    ]);
    let o = train(&args, &[]);
    let log = text(&o);
    assert!(o.status.success(), "{log}");
    // Round-robin: steps 1 and 3 train stripes, 2 and 4 dots.
    assert!(log.contains("step 1/4 epoch 1 (style stripes)"), "{log}");
    assert!(log.contains("step 2/4 epoch 1 (style dots)"), "{log}");
    assert!(
        log.contains("eval at step 4 of dots on 4 held-out photos"),
        "{log}"
    );
    assert!(run.join("samples/step-00000004-stripes.png").exists());
    assert!(run.join("samples/step-00000004-dots.png").exists());
    // TensorBoard has each style's curves (tags are stored as plain text in the events).
    let mut events = Vec::new();
    for e in std::fs::read_dir(run.join("tb"))? {
        events.extend(std::fs::read(e?.path())?);
    }
    for tag in [
        "loss/stripes/style",
        "loss/dots/total",
        "eval/dots/style",
        "sample/dots",
    ] {
        let found = events.windows(tag.len()).any(|w| w == tag.as_bytes());
        assert!(found, "no {tag} in the TensorBoard events");
    }

    let model = run.join("model.safetensors");
    let stylizer = fauve::Stylizer::load(&model, &Device::Cpu)?;
    assert_eq!(stylizer.styles(), ["stripes", "dots"]);
    let styles = &stylizer.metadata().styles;
    assert_eq!(
        styles[1].source.as_deref(),
        Some(dots(&s).to_str().unwrap())
    );
    assert_eq!(
        styles[1].style_image_sha256.as_ref().map(String::len),
        Some(64)
    );
    // Only the norms differ per style: two rows each.
    assert_eq!(norm_rows(&model, "res3.in1.weight").len(), 2);

    let o = Command::new(FAUVE_TRAIN)
        .args([
            "eval",
            "--model",
            model.to_str().unwrap(),
            "--photos",
            &photos,
        ])
        .output()?;
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", text(&o));
    assert!(out.contains("stripes: mean over 4 photos: loss"), "{out}");
    assert!(out.contains("dots: mean over 4 photos: loss"), "{out}");
    Ok(())
}

#[test]
fn a_multi_style_run_in_random_order_resumes_bit_for_bit() {
    let s = setup(5);
    let with_order = |run: &Path, steps| {
        let mut a = two_style_args(&s, run, steps);
        a.extend(["--style-order".into(), "random".into()]);
        a
    };
    let straight = s.run_dir("straight");
    let o = train(&with_order(&straight, 8), &[]);
    assert!(o.status.success(), "{}", text(&o));
    let split = s.run_dir("split");
    let o = train(&with_order(&split, 5), &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert_resume_reproduces(&straight, &split, 5, 8);
}

#[test]
fn extending_adds_a_style_and_leaves_the_others_bit_for_bit() -> anyhow::Result<()> {
    let s = setup(4);
    let base_run = s.run_dir("base");
    let o = train(&two_style_args(&s, &base_run, 2), &[]);
    assert!(o.status.success(), "{}", text(&o));
    let base = base_run.join("model.safetensors");

    let third = third_painting(&s);
    let ext_run = s.run_dir("ext");
    let p = |p: &Path| p.display().to_string();
    let o = train(
        &[
            "--extend".into(),
            p(&base),
            "--style-image".into(),
            p(&third),
            "--steps".into(),
            "3".into(),
            "--run-dir".into(),
            p(&ext_run),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", text(&o));
    let grown = ext_run.join("model.safetensors");
    let stylizer = fauve::Stylizer::load(&grown, &Device::Cpu)?;
    assert_eq!(stylizer.styles(), ["stripes", "dots", "third"]);
    // The shared convs and the existing rows are the base model's, bit for bit; the new row
    // trained away from its start (the mean of the others).
    let before = fauve::ModelFile::load(&base, &Device::Cpu)?;
    let after = fauve::ModelFile::load(&grown, &Device::Cpu)?;
    for (key, t) in &before.tensors {
        let new = &after.tensors[key];
        let old_part = if t.rank() == 2 {
            new.narrow(0, 0, 2)?
        } else {
            new.clone()
        };
        let same =
            t.flatten_all()?.to_vec1::<f32>()? == old_part.flatten_all()?.to_vec1::<f32>()?;
        assert!(same, "{key} changed");
    }
    let rows = norm_rows(&grown, "in1.bias");
    let start: Vec<f32> = rows[0]
        .iter()
        .zip(&rows[1])
        .map(|(a, b)| (a + b) / 2.0)
        .collect();
    assert!(rows[2] != start, "the new style did not train");
    // The styles it had stylize as before.
    let old = fauve::Stylizer::load(&base, &Device::Cpu)?;
    let photo = fauve::image::DynamicImage::ImageRgb8(fauve_tests::test_photo(40, 32));
    for name in ["stripes", "dots"] {
        let choice = fauve::StyleChoice::Named(name.into());
        let a = old.with_style(&choice)?.stylize(&photo)?;
        let b = stylizer.with_style(&choice)?.stylize(&photo)?;
        assert!(a == b, "{name} changed");
    }

    // A name the model already has is refused.
    let o = train(
        &[
            "--extend".into(),
            p(&base),
            "--style-image".into(),
            p(&s.style),
            "--run-dir".into(),
            p(&s.run_dir("again")),
        ],
        &[],
    );
    assert!(!o.status.success());
    assert!(
        text(&o).contains("already has a style named `stripes`"),
        "{}",
        text(&o)
    );
    Ok(())
}

#[test]
fn style_names_must_match_the_paintings_and_be_unique() {
    let s = setup(2);
    for (extra, says) in [
        ("[\"a\"]", "one name per painting (2), got 1"),
        ("[\"a\", \"a\"]", "two styles are named `a`"),
    ] {
        let mut args = two_style_args(&s, &s.run_dir("r"), 2);
        args.extend(["--style-names".into(), extra.into()]);
        let o = train(&args, &[]);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(text(&o).contains(says), "{}", text(&o));
    }
}

#[test]
fn an_extension_does_not_resume_on_a_replaced_model() -> anyhow::Result<()> {
    let s = setup(3);
    let (a, b) = (s.run_dir("a"), s.run_dir("b"));
    let o = train(&two_style_args(&s, &a, 1), &[]);
    assert!(o.status.success(), "{}", text(&o));
    let mut other = two_style_args(&s, &b, 1);
    other.extend(["--seed".into(), "7".into()]);
    let o = train(&other, &[]);
    assert!(o.status.success(), "{}", text(&o));
    let base = a.join("model.safetensors");
    let third = third_painting(&s);
    let ext = s.run_dir("ext");
    let p = |p: &Path| p.display().to_string();
    let args = |steps: &str| -> Vec<String> {
        [
            "--extend",
            &p(&base),
            "--style-image",
            &p(&third),
            "--steps",
            steps,
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([
            "--run-dir".into(),
            p(&ext),
            "--checkpoint-every".into(),
            "1".into(),
        ])
        .collect()
    };
    let o = train(&args("2"), &[]);
    assert!(o.status.success(), "{}", text(&o));
    std::fs::copy(b.join("model.safetensors"), &base)?;
    let o = train(&crate::resume_args(&ext, 3), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("is not the model this run started extending"),
        "{}",
        text(&o)
    );
    Ok(())
}

#[test]
fn preview_takes_one_painting_and_says_so() {
    let s = setup(1);
    let photo = s.photos.join("nested/p00.jpg");
    let list = format!("[\"{}\", \"{}\"]", s.style.display(), dots(&s).display());
    let out = s.dir.path().join("preview.png");
    let o = Command::new(FAUVE_TRAIN)
        .arg("preview")
        .arg(&photo)
        .arg("-o")
        .arg(&out)
        .args(["--style-images", &list])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("does not take style_images"),
        "{}",
        text(&o)
    );
    assert!(!out.exists());
}
