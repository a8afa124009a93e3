//! How an extension (`--extend MODEL` or `extend` in a config file) finds its settings and
//! where it writes (issue 37, findings 3, 4 and 14).

use std::path::Path;
use std::process::Command;

use super::multi_style::third_painting;
use super::{setup, text, train, FAUVE_TRAIN};

fn p(path: &Path) -> String {
    path.display().to_string()
}

/// The run folder's config.toml.
fn run_config(run: &Path) -> toml::Table {
    std::fs::read_to_string(run.join("config.toml"))
        .expect("config.toml")
        .parse()
        .expect("TOML")
}

/// Neither an extension nor a fresh run writes over a trained model: not the one being
/// extended (finding 4: `--extend base/model.safetensors --run-dir base` replaced it), not a
/// finished run's.
#[test]
fn a_run_never_writes_over_a_trained_model() -> anyhow::Result<()> {
    let s = setup(4);
    let base_run = s.run_dir("base");
    let o = train(&s.args(&base_run, 2), &[]);
    assert!(o.status.success(), "{}", text(&o));
    // Checkpoints cleared away to save space: nothing but the model guards the folder.
    std::fs::remove_dir_all(base_run.join("checkpoints"))?;
    let base = base_run.join("model.safetensors");
    let before = std::fs::read(&base)?;

    let extend = [
        "--extend",
        &p(&base),
        "--style-image",
        &p(&third_painting(&s)),
        "--steps",
        "1",
        "--run-dir",
        &p(&base_run),
    ]
    .map(String::from);
    let o = train(&extend, &[]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("is this run's own output"), "{t}");
    assert_eq!(std::fs::read(&base)?, before, "the base model changed");

    let o = train(&s.args(&base_run, 2), &[]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("already holds a trained model"), "{t}");
    assert_eq!(
        std::fs::read(&base)?,
        before,
        "the finished run's model changed"
    );
    Ok(())
}

/// `extend = "..."` in a config file is `--extend`: the settings start from the model's own
/// training config (finding 3: the file's run used the defaults instead).
#[test]
fn extend_in_a_config_file_starts_from_the_models_config() -> anyhow::Result<()> {
    let s = setup(4);
    let base_run = s.run_dir("base");
    let mut args = s.args(&base_run, 2);
    args.extend(["--style-balance", "none", "--content-weight", "3.5"].map(String::from));
    let o = train(&args, &[]);
    assert!(o.status.success(), "{}", text(&o));
    let base = base_run.join("model.safetensors");
    let third = third_painting(&s);

    let by_flag = s.run_dir("by-flag");
    let o = train(
        &[
            "--extend",
            &p(&base),
            "--style-image",
            &p(&third),
            "--steps",
            "1",
            "--run-dir",
            &p(&by_flag),
        ]
        .map(String::from),
        &[],
    );
    assert!(o.status.success(), "{}", text(&o));

    let by_file = s.run_dir("by-file");
    let config = s.dir.path().join("extend.toml");
    std::fs::write(
        &config,
        format!(
            "extend = {:?}\nstyle_image = {:?}\nsteps = 1\nrun_dir = {:?}\n",
            p(&base),
            p(&third),
            p(&by_file)
        ),
    )?;
    let o = train(&["--config".into(), p(&config)], &[]);
    assert!(o.status.success(), "{}", text(&o));

    let (mut a, mut b) = (run_config(&by_flag), run_config(&by_file));
    assert_eq!(a["style_balance"].as_str(), Some("none"));
    assert_eq!(a["content_weight"].as_float(), Some(3.5));
    a.remove("run_dir");
    b.remove("run_dir");
    assert_eq!(
        a, b,
        "a config file's extension trains another objective than --extend's"
    );
    Ok(())
}

/// An extension started elsewhere than its base run does not inherit the base's held-out
/// folder (a relative path of that run), trains a few hundred steps rather than two epochs
/// unless told, and takes a slim base's architecture without being told (finding 14).
#[test]
fn an_extension_takes_only_what_describes_the_objective_from_its_base() -> anyhow::Result<()> {
    let s = setup(4);
    let base_run = s.run_dir("base");
    let mut args = s.args(&base_run, 2);
    args.extend(["--architecture", "slim", "--eval-dir", "photos"].map(String::from));
    let o = Command::new(FAUVE_TRAIN)
        .args(&args)
        .current_dir(s.dir.path())
        .output()?;
    assert!(o.status.success(), "{}", text(&o));

    let ext_run = s.run_dir("ext");
    let o = train(
        &[
            "--extend",
            &p(&base_run.join("model.safetensors")),
            "--style-image",
            &p(&third_painting(&s)),
            "--run-dir",
            &p(&ext_run),
            "--image-size",
            "16",
            "--batch-size",
            "1",
            "--sample-every",
            "0",
            "--log-every",
            "100",
        ]
        .map(String::from),
        &[],
    );
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    let cfg = run_config(&ext_run);
    assert!(!cfg.contains_key("eval_dir"), "{cfg:?}");
    assert_eq!(cfg["steps"].as_integer(), Some(600));
    assert_eq!(cfg["architecture"].as_str(), Some("slim"));
    Ok(())
}
