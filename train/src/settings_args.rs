//! Every config key as a `--kebab-case` flag of `fauve-train` and its commands, declared to
//! clap from the one key list ([`crate::config::KEY_HELP`]), so `--help` lists each key with its
//! default, `--key=value` and `--key value` both work, and a mistyped flag gets clap's
//! suggestion of the nearest key.

use clap::{Arg, ArgMatches};

use crate::config::{self, TrainConfig, KEY_HELP};

/// The `--help` heading the settings are listed under.
pub const HEADING: &str = "Settings (config keys: snake_case in a TOML file)";

/// One flag per config key, except the keys in `except` (a command that gives one of them
/// another meaning: `preview --style-weight` takes a list).
pub fn setting_args(except: &[&str]) -> Vec<Arg> {
    let defaults = toml::Value::try_from(TrainConfig::default()).ok();
    KEY_HELP
        .iter()
        .filter(|(key, _)| !except.contains(key))
        .map(|(key, help)| {
            let default = defaults
                .as_ref()
                .and_then(|d| d.get(key))
                .map(|v| format!(" [default: {v}]"))
                .unwrap_or_default();
            Arg::new(*key)
                .long(key.replace('_', "-"))
                .value_name("VALUE")
                .help(format!("{help}{default}"))
                .allow_hyphen_values(true)
                .help_heading(HEADING)
        })
        .collect()
}

/// The settings given on the command line, as a table of snake_case keys to TOML values (a
/// bare TOML value: number, bool, array, quoted string; anything else is a string), for
/// [`config::load`] to check against each key's type.
pub fn overrides(matches: &ArgMatches) -> toml::Table {
    let mut table = toml::Table::new();
    for (key, _) in KEY_HELP {
        if let Ok(Some(raw)) = matches.try_get_one::<String>(key) {
            table.insert((*key).to_string(), config::parse_value(raw));
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use anyhow::Result;

    fn parse(args: &[&str]) -> Result<toml::Table, clap::Error> {
        let cmd = clap::Command::new("t").args(setting_args(&[]));
        let matches = cmd.try_get_matches_from(std::iter::once("t").chain(args.iter().copied()))?;
        Ok(overrides(&matches))
    }

    #[test]
    fn flags_give_typed_values_in_kebab_case() -> Result<()> {
        let t = parse(&[
            "--image-size",
            "64",
            "--lr=0.01",
            "--style-layers",
            "[\"relu2_2\"]",
            "--data-dir",
            "photos/x",
            "--random-crop",
            "true",
        ])?;
        let cfg = config::load(None, &t)?;
        assert_eq!(cfg.image_size, 64);
        assert_eq!(cfg.lr, 0.01);
        assert_eq!(cfg.style_layers, Some(vec!["relu2_2".to_string()]));
        assert_eq!(cfg.data_dir, PathBuf::from("photos/x"));
        assert!(cfg.random_crop);
        Ok(())
    }

    #[test]
    fn a_mistyped_flag_is_named_with_the_nearest_key() {
        let err = parse(&["--learning-rate", "1"]).unwrap_err().to_string();
        assert!(err.contains("--learning-rate"), "{err}");
        let err = parse(&["--batch-sise", "1"]).unwrap_err().to_string();
        assert!(err.contains("--batch-size"), "{err}");
    }

    #[test]
    fn bf16_on_the_cpu_is_refused_with_the_fix() -> Result<()> {
        let t = parse(&["--precision", "bf16", "--device", "cpu"])?;
        let err = config::load(None, &t).unwrap_err().to_string();
        assert!(err.contains("bf16 needs a CUDA device"), "{err}");
        assert!(err.contains("--precision f32"), "{err}");
        Ok(())
    }

    #[test]
    fn bad_values_are_named() -> Result<()> {
        for (flag, value, needle) in [
            ("--lr", "-0.001", "`lr` must be a positive number"),
            ("--batch-size", "0", "`batch_size` must be at least 1"),
            (
                "--image-size",
                "abc",
                "--image-size must be a whole number, got `abc`",
            ),
            (
                "--steps",
                "abc",
                "--steps must be a whole number, got `abc`",
            ),
            ("--steps", "-3", "--steps must be a whole number, got `-3`"),
            ("--lr", "fast", "--lr must be a number, got `fast`"),
            (
                "--random-crop",
                "yes",
                "--random-crop must be true or false, got `yes`",
            ),
            ("--content-layer", "relu9_9", "unknown layer `relu9_9`"),
            ("--style-weight", "nan", "`style_weight`"),
            ("--device", "tpu", "`device`"),
            ("--precision", "fp8", "`precision` must be f32 or bf16"),
        ] {
            let t = parse(&[flag, value])?;
            let err = config::load(None, &t).unwrap_err().to_string();
            assert!(err.contains(needle), "{flag} {value}: {err}");
        }
        Ok(())
    }

    #[test]
    fn every_key_is_a_flag_but_the_excepted() {
        assert_eq!(setting_args(&[]).len(), KEY_HELP.len());
        let preview = setting_args(&["content_weight", "style_weight"]);
        assert_eq!(preview.len(), KEY_HELP.len() - 2);
        assert!(preview.iter().all(|a| a.get_id() != "style_weight"));
    }
}
