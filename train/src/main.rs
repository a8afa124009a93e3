//! `fauve-train`: train a style model from one painting and a folder of photos.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{anyhow, Context};

use fauve_train::checkpoint::{self, Checkpoint};
use fauve_train::config::{self, TrainConfig};
use fauve_train::trainer::{self, Outcome};

mod cli;
mod commands;
mod failure;

use cli::{Cli, Command};
use failure::Failure;

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

/// The run's settings and, when resuming, its checkpoint. Errors in what the user gave are
/// [`Failure::Usage`].
fn resolve(
    cli: &Cli,
    overrides: toml::Table,
) -> Result<(TrainConfig, Option<Checkpoint>), Failure> {
    if cli.allow_changed_data && cli.resume.is_none() {
        return Err(Failure::Usage(anyhow!(
            "--allow-changed-data goes with --resume"
        )));
    }
    let Some(run_dir) = &cli.resume else {
        let file = config::read_table(cli.config.as_deref()).map_err(Failure::Usage)?;
        let extend = overrides
            .get("extend")
            .or_else(|| file.get("extend"))
            .and_then(|v| v.as_str())
            .map(str::to_owned);
        let cfg = match extend {
            Some(model) => extension_config(&model, file, &overrides)?,
            None => config::from_table(
                file,
                &overrides,
                &config::source_name(cli.config.as_deref()),
            )
            .map_err(Failure::Usage)?,
        };
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

/// The settings of an extension (`--extend MODEL`, or `extend` in the config file): the
/// model's own training config (less its paintings and run), then the config file's keys
/// (`file`), then the flags; [`fauve_train::extend::DEFAULT_STEPS`] unless steps or epochs
/// are given.
fn extension_config(
    model: &str,
    file: toml::Table,
    overrides: &toml::Table,
) -> Result<TrainConfig, Failure> {
    let mut table = fauve_train::extend::base_config(model.as_ref()).map_err(Failure::Usage)?;
    let from_model = !table.is_empty();
    table.extend(file);
    let given = |k: &str| table.contains_key(k) || overrides.contains_key(k);
    if !given("steps") && !given("epochs") {
        let steps = fauve_train::extend::DEFAULT_STEPS as i64;
        table.insert("steps".into(), toml::Value::Integer(steps));
    }
    let source = format!("{model} (its training config)");
    let cfg = if from_model {
        config::from_saved_table(table, overrides, &source)
    } else {
        config::from_table(table, overrides, &source)
    };
    cfg.map_err(Failure::Usage)
}

fn run(
    cli: Cli,
    overrides: toml::Table,
    interrupted: Arc<AtomicBool>,
) -> Result<ExitCode, Failure> {
    let (cfg, resume) = resolve(&cli, overrides)?;
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
    let (mut cli, settings) = cli::parse();
    let interrupted = Arc::new(AtomicBool::new(false));
    catch_ctrl_c(interrupted.clone());
    let result = match cli.command.take() {
        Some(Command::Preview(args)) => commands::preview::run(args, settings, &interrupted),
        Some(Command::Eval(args)) => commands::eval::run(args, settings),
        None => run(cli, settings, interrupted),
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
