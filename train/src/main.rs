//! `fauve-train`: train a style model from one painting and a folder of photos.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};

use fauve_train::checkpoint::{self, Checkpoint};
use fauve_train::config::{self, TrainConfig};
use fauve_train::trainer::{self, Outcome};

mod commands;

/// Settings that may change when a run is resumed; the others define the run.
const RESUMABLE_KEYS: &[&str] = &[
    "steps",
    "max_minutes",
    "lr",
    "epochs",
    "log_every",
    "checkpoint_every",
    "keep_checkpoints",
    "sample_every",
    "eval_dir",
    "eval_every",
    "workers",
    "prefetch",
    "device",
];

fn help() -> String {
    format!(
        "Train a Fauve style model: one painting, a folder of photos, a frozen VGG16 loss.

Usage: fauve-train [--config FILE] [--KEY VALUE]...
       fauve-train --resume RUN_DIR [--steps N] [--KEY VALUE]...
       fauve-train preview PHOTO -o OUT [--config FILE] [--KEY VALUE]...  (see preview --help)
       fauve-train eval --model MODEL --photos DIR [--config FILE]     (see eval --help)

Commands:
  preview   stylize one photo by optimisation under a config's loss, in minutes: see what
            weights or a style size look like before training
  eval      a model's mean loss on held-out photos (compare checkpoints and settings)

Options:
  --config FILE           TOML file with settings (see configs/); flags override it
  --resume RUN_DIR        continue a run from its newest checkpoint (optionally to a new --steps)
  --allow-changed-data    with --resume: continue although the photo folder changed since the
                          run started (the data order then differs from an uninterrupted run)
  -h, --help              print this help
  -V, --version           print the version

The run folder holds config.toml, checkpoints/, tb/ (TensorBoard: tensorboard --logdir
RUN_DIR/tb), samples/ and, at the end, model.safetensors for fauve-infer. Ctrl-C writes a
checkpoint and stops; resume with --resume RUN_DIR.

Exit codes: 0 done, 1 the run failed, 2 a usage or config error, 130 interrupted.

{}",
        config::keys_help()
    )
}

struct Cli {
    config: Option<PathBuf>,
    resume: Option<PathBuf>,
    allow_changed_data: bool,
    overrides: Vec<String>,
}

/// A failure and the exit code it gets: 2 for what the user typed or configured, 1 for
/// anything that went wrong while running.
pub(crate) enum Failure {
    Usage(anyhow::Error),
    Run(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Run(e)
    }
}

enum Parsed {
    Run(Cli),
    Exit(String),
}

fn parse_cli(args: Vec<String>) -> Result<Parsed> {
    let mut cli = Cli {
        config: None,
        resume: None,
        allow_changed_data: false,
        overrides: Vec::new(),
    };
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-h" | "--help" => return Ok(Parsed::Exit(help())),
            "-V" | "--version" => {
                return Ok(Parsed::Exit(format!(
                    "fauve-train {}\n",
                    env!("CARGO_PKG_VERSION")
                )))
            }
            "--config" => cli.config = Some(it.next().context("`--config` needs a file")?.into()),
            "--resume" => {
                cli.resume = Some(it.next().context("`--resume` needs a run folder")?.into())
            }
            "--allow-changed-data" => cli.allow_changed_data = true,
            _ => {
                if let Some(v) = a.strip_prefix("--config=") {
                    cli.config = Some(v.into());
                } else if let Some(v) = a.strip_prefix("--resume=") {
                    cli.resume = Some(v.into());
                } else {
                    cli.overrides.push(a);
                }
            }
        }
    }
    if cli.allow_changed_data && cli.resume.is_none() {
        bail!("--allow-changed-data goes with --resume");
    }
    Ok(Parsed::Run(cli))
}

/// The run's settings and, when resuming, its checkpoint. Errors in what the user gave are
/// [`Failure::Usage`].
fn resolve(cli: &Cli) -> Result<(TrainConfig, Option<Checkpoint>), Failure> {
    let overrides = config::parse_overrides(&cli.overrides).map_err(Failure::Usage)?;
    let Some(run_dir) = &cli.resume else {
        let cfg = config::load(cli.config.as_deref(), &overrides).map_err(Failure::Usage)?;
        return Ok((cfg, None));
    };
    if cli.config.is_some() {
        return Err(Failure::Usage(anyhow!(
            "--resume takes its settings from the run's checkpoint; drop --config"
        )));
    }
    if let Some(k) = overrides
        .keys()
        .find(|k| !RESUMABLE_KEYS.contains(&k.as_str()))
    {
        return Err(Failure::Usage(anyhow!(
            "`--{}` cannot change when resuming; only {} can",
            k.replace('_', "-"),
            RESUMABLE_KEYS.join(", ")
        )));
    }
    let ckpt_dir = run_dir.join("checkpoints");
    let ckpt = checkpoint::latest(&ckpt_dir)?
        .with_context(|| format!("no checkpoint to resume from in {}", ckpt_dir.display()))?;
    let saved: toml::Table = ckpt
        .state
        .config_toml
        .parse()
        .with_context(|| format!("{}: unreadable config", ckpt.path.display()))?;
    let mut overrides = overrides;
    overrides.insert(
        "run_dir".into(),
        toml::Value::String(run_dir.display().to_string()),
    );
    let source = ckpt.path.display().to_string();
    let cfg = config::from_saved_table(saved, &overrides, &source).map_err(Failure::Usage)?;
    eprintln!("resuming from {}", ckpt.path.display());
    Ok((cfg, Some(ckpt)))
}

fn run(cli: Cli, interrupted: Arc<AtomicBool>) -> Result<ExitCode, Failure> {
    let (cfg, resume) = resolve(&cli)?;
    let options = trainer::Options {
        allow_changed_data: cli.allow_changed_data,
    };
    match trainer::train(&cfg, resume, options, interrupted)? {
        Outcome::Finished { model } => {
            println!("model written to {}", model.display());
            println!(
                "stylize with: fauve-infer --model {} PHOTO...",
                model.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Outcome::Interrupted { checkpoint, step } => {
            eprintln!(
                "interrupted at step {step}; checkpoint {}\nresume with: fauve-train --resume {}",
                checkpoint.display(),
                cfg.run_dir().display()
            );
            Ok(ExitCode::from(130))
        }
    }
}

fn main() -> ExitCode {
    fauve::keep_freed_memory();
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let command = match args.first().map(String::as_str) {
        Some("preview" | "eval") => Some(args.remove(0)),
        _ => None,
    };
    let interrupted = Arc::new(AtomicBool::new(false));
    catch_ctrl_c(interrupted.clone());
    let result = match command.as_deref() {
        Some("preview") => commands::preview::run(args, &interrupted),
        Some("eval") => commands::eval::run(args),
        _ => train_command(args, interrupted),
    };
    match result {
        Ok(code) => code,
        Err(Failure::Usage(e)) => {
            eprintln!("error: {}", fauve::report(e.as_ref()));
            ExitCode::from(2)
        }
        Err(Failure::Run(e)) => {
            eprintln!("error: {}", fauve::report(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

/// The first Ctrl-C sets `flag` (the work stops cleanly, keeping what is done); a second one
/// exits at once.
fn catch_ctrl_c(flag: Arc<AtomicBool>) {
    let handler = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            eprintln!("\nsecond interrupt: stopping at once");
            std::process::exit(130);
        }
        eprintln!("\ninterrupt: stopping after this step (Ctrl-C again to abort)");
    });
    if let Err(e) = handler {
        eprintln!("warning: cannot catch Ctrl-C ({e}); an interrupt will lose work since the last checkpoint");
    }
}

fn train_command(args: Vec<String>, interrupted: Arc<AtomicBool>) -> Result<ExitCode, Failure> {
    match parse_cli(args).map_err(Failure::Usage)? {
        Parsed::Run(cli) => run(cli, interrupted),
        Parsed::Exit(text) => {
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
    }
}
