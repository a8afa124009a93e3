//! `fauve-train`'s command line, parsed by clap: the training run's own flags, the `preview`
//! and `eval` commands, and every config key as a `--kebab-case` flag of each.

use std::path::PathBuf;

use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};
use fauve_train::settings_args::{overrides, setting_args};

use crate::commands::{eval::EvalArgs, preview::PreviewArgs};

/// Train a Fauve style model: one painting, a folder of photos, a frozen VGG perceptual loss.
///
/// The run folder holds config.toml, checkpoints/, tb/ (TensorBoard: tensorboard --logdir
/// RUN_DIR/tb), samples/ and, at the end, model.safetensors for fauve-infer. Ctrl-C writes a
/// checkpoint and stops; resume with --resume RUN_DIR.
///
/// Exit codes: 0 done, 1 the run failed, 2 a usage or config error, 130 interrupted.
#[derive(Debug, Parser)]
#[command(name = "fauve-train", version, about, long_about)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// TOML file with settings (see configs/); flags override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Continue a run from its newest checkpoint (optionally to a new --steps).
    #[arg(long, value_name = "RUN_DIR")]
    pub resume: Option<PathBuf>,

    /// With --resume: continue although the photo folder changed since the run started (the
    /// data order then differs from an uninterrupted run).
    #[arg(long)]
    pub allow_changed_data: bool,
}

/// The commands beside training.
#[derive(Debug, Subcommand)]
pub enum Command {
    Preview(PreviewArgs),
    Eval(EvalArgs),
}

/// Keys `preview` takes as lists of its own.
const PREVIEW_LISTS: [&str; 2] = ["content_weight", "style_weight"];

/// The whole command, settings included. A flag given twice takes its last value, so a script
/// can append an override to a fixed command line.
fn command() -> clap::Command {
    Cli::command()
        .args(setting_args(&[]))
        .args_override_self(true)
        .mut_subcommand("preview", |c| {
            c.args(setting_args(&PREVIEW_LISTS))
                .args_override_self(true)
        })
        .mut_subcommand("eval", |c| {
            c.args(setting_args(&[])).args_override_self(true)
        })
}

/// Parses the process's arguments (clap prints help, version and usage errors itself and
/// exits: 0 for help, 2 for errors), returning the command and the settings given as flags.
pub fn parse() -> (Cli, toml::Table) {
    let matches = command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let settings = overrides(sub_matches(&matches));
    (cli, settings)
}

/// The matches the settings were given in: the command's, or the top level's.
fn sub_matches(matches: &ArgMatches) -> &ArgMatches {
    matches.subcommand().map_or(matches, |(_, m)| m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_is_well_formed() {
        command().debug_assert();
    }

    #[test]
    fn settings_reach_each_command_and_equals_forms_work() {
        let m = command()
            .try_get_matches_from([
                "fauve-train",
                "eval",
                "--model=m",
                "--photos",
                "p",
                "--lr=0.5",
            ])
            .unwrap();
        let cli = Cli::from_arg_matches(&m).unwrap();
        assert!(matches!(cli.command, Some(Command::Eval(ref a)) if a.model.as_os_str() == "m"));
        assert_eq!(
            overrides(sub_matches(&m)).get("lr"),
            Some(&toml::Value::Float(0.5))
        );
    }
}
