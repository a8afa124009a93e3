//! `fauve-train eval` and the validation curve: the saved model, scored by `eval` under its own
//! training config, gets the loss that training reported for the same network on the same
//! held-out photos; weights given as flags change the objective; bad arguments are named.

use std::process::Command;

use super::{setup, text, train, FAUVE_TRAIN};

/// The numbers of a `loss T (content C, style S)` text, after `marker`.
fn losses_after(out: &str, marker: &str) -> [f64; 3] {
    let line = out
        .lines()
        .find(|l| l.contains(marker))
        .unwrap_or_else(|| panic!("no `{marker}` in:\n{out}"));
    let rest = line.split(marker).nth(1).unwrap();
    let nums: Vec<f64> = rest
        .split([' ', '(', ')', ','])
        .filter_map(|w| w.parse().ok())
        .collect();
    [nums[0], nums[1], nums[2]]
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-4 * a.abs().max(b.abs()) + 1e-9
}

#[test]
fn eval_scores_the_saved_model_as_training_scored_it() {
    let s = setup(4);
    let run = s.run_dir("run");
    let mut args = s.args(&run, 5);
    let photos = s.photos.display().to_string();
    args.extend([
        "--eval-dir".into(),
        photos.clone(),
        "--eval-every".into(),
        "2".into(),
    ]);
    let o = train(&args, &[]);
    assert!(o.status.success(), "{}", text(&o));
    let log = text(&o);
    for step in [2, 4, 5] {
        assert!(
            log.contains(&format!("eval at step {step} on 4 held-out photos")),
            "{log}"
        );
    }
    let during = losses_after(&log, "eval at step 5 on 4 held-out photos: loss");

    let model = run.join("model.safetensors");
    let eval = |extra: &[&str]| {
        Command::new(FAUVE_TRAIN)
            .arg("eval")
            .args(["--model", model.to_str().unwrap(), "--photos", &photos])
            .args(extra)
            .output()
            .unwrap()
    };
    let o = eval(&[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("(its training config)"), "{}", text(&o));
    let after = losses_after(&text(&o), "mean over 4 photos: loss");
    for (a, b) in during.iter().zip(&after) {
        assert!(
            close(*a, *b),
            "training said {during:?}, eval says {after:?}"
        );
    }
    // One line per photo, whose mean is the reported mean.
    let per_photo: Vec<f64> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| l.contains(".jpg  loss"))
        .map(|l| losses_after(l, "  loss")[0])
        .collect();
    assert_eq!(per_photo.len(), 4);
    assert!(close(per_photo.iter().sum::<f64>() / 4.0, after[0]));

    // A flag changes the objective: without the content term only the style term is left.
    let o = eval(&["--content-weight", "0"]);
    assert!(o.status.success(), "{}", text(&o));
    let no_content = losses_after(&text(&o), "mean over 4 photos: loss");
    assert_eq!(no_content[1], 0.0);
    assert!(close(no_content[0], after[2]) && close(no_content[2], after[2]));
}

#[test]
fn eval_names_what_is_wrong() {
    let s = setup(1);
    let photos = s.photos.display().to_string();
    let run = |args: &[&str]| {
        Command::new(FAUVE_TRAIN)
            .arg("eval")
            .args(args)
            .output()
            .unwrap()
    };
    let o = run(&["--photos", &photos]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--model <MODEL>"), "{}", text(&o));
    let o = run(&["--model", "/no/such/model.safetensors", "--photos", &photos]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("cannot load the model /no/such/model.safetensors"),
        "{}",
        text(&o)
    );
}

/// Rewrites the string metadata of the safetensors file at `path` through `edit`, keeping its
/// tensors' bytes (the header is JSON after its 8-byte little-endian length).
fn edit_metadata(
    path: &std::path::Path,
    edit: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>),
) {
    let bytes = std::fs::read(path).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    edit(header["__metadata__"].as_object_mut().unwrap());
    let mut text = serde_json::to_vec(&header).unwrap();
    while text.len() % 8 != 0 {
        text.push(b' ');
    }
    let mut out = (text.len() as u64).to_le_bytes().to_vec();
    out.extend(text);
    out.extend(&bytes[8 + n..]);
    std::fs::write(path, out).unwrap();
}

/// A recorded hash that is not hex (here multi-byte characters where the message cuts it
/// short) is a mismatch to report, not a panic (issue 37, finding 5).
#[test]
fn eval_reports_a_non_hex_recorded_hash_without_panicking() {
    let s = setup(2);
    let run = s.run_dir("run");
    let o = train(&s.args(&run, 1), &[]);
    assert!(o.status.success(), "{}", text(&o));
    let model = run.join("model.safetensors");
    edit_metadata(&model, |meta| {
        let mut training: serde_json::Value =
            serde_json::from_str(meta["training"].as_str().unwrap()).unwrap();
        training["style_image_sha256"] = "aéééééé".into();
        meta.insert("training".into(), training.to_string().into());
    });
    let o = Command::new(FAUVE_TRAIN)
        .args(["eval", "--model", model.to_str().unwrap()])
        .args(["--photos", s.photos.to_str().unwrap()])
        .output()
        .unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("SHA-256 aéééééé then"), "{t}");
    assert!(!t.contains("panicked"), "{t}");
}
