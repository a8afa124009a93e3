//! `fauve-train eval`: a model's mean loss on a folder of photos it never saw.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};

use fauve::Stylizer;
use fauve_train::config::{self, TrainConfig};
use fauve_train::evaluate::EvalSet;
use fauve_train::perceptual::PerceptualLoss;

use crate::Failure;

pub const HELP: &str =
    "Score a model on held-out photos: the mean content, style and total loss of its outputs under
the training objective, so checkpoints and settings can be compared on photos they never saw
(data/eval/ from scripts/fetch-photos.sh is set aside for this).

Usage: fauve-train eval --model MODEL --photos DIR [--config FILE] [--KEY VALUE]...

Options:
  --model MODEL    a model file (model.safetensors or a checkpoint's step-N.safetensors)
  --photos DIR     folder of photos, searched recursively; each is centre-cropped to image_size
  --config FILE    the objective to score with (default: the one the model was trained with,
                   from its metadata, else the built-in defaults)
  --KEY VALUE      any training setting, e.g. --image-size 256 or --style-weight 1e3
  -h, --help       print this help
";

struct Args {
    model: PathBuf,
    photos: PathBuf,
    config: Option<PathBuf>,
    overrides: Vec<String>,
}

fn parse(args: Vec<String>) -> Result<Option<Args>> {
    let (mut model, mut photos, mut config, mut overrides) = (None, None, None, Vec::new());
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().with_context(|| format!("`{name}` needs a value"));
        match a.as_str() {
            "-h" | "--help" => return Ok(None),
            "--model" => model = Some(PathBuf::from(value("--model")?)),
            "--photos" => photos = Some(PathBuf::from(value("--photos")?)),
            "--config" => config = Some(PathBuf::from(value("--config")?)),
            f if f.starts_with("--") && f.contains('=') => overrides.push(a),
            f if f.starts_with("--") => {
                let v = value(f)?;
                overrides.extend([a, v]);
            }
            _ => anyhow::bail!("unexpected argument `{a}`\n\nhint: fauve-train eval --help"),
        }
    }
    Ok(Some(Args {
        model: model.context("eval needs --model MODEL")?,
        photos: photos.context("eval needs --photos DIR")?,
        config,
        overrides,
    }))
}

/// The objective: `--config`, else the model's own training config, else the defaults; with
/// the flags applied.
fn objective(args: &Args, stylizer: &Stylizer) -> Result<(TrainConfig, String)> {
    let overrides = config::parse_overrides(&args.overrides)?;
    if let Some(file) = &args.config {
        return Ok((
            config::load(Some(file), &overrides)?,
            file.display().to_string(),
        ));
    }
    let saved = stylizer
        .metadata()
        .training
        .as_ref()
        .and_then(|t| t.get("config"))
        .and_then(|c| toml::Value::try_from(c).ok())
        .and_then(|v| v.as_table().cloned());
    match saved {
        Some(table) => {
            let source = format!("{} (its training config)", args.model.display());
            Ok((
                config::from_saved_table(table, &overrides, &source)?,
                source,
            ))
        }
        None => Ok((
            config::load(None, &overrides)?,
            "the built-in defaults".into(),
        )),
    }
}

/// Runs `fauve-train eval ARGS...`.
pub fn run(args: Vec<String>) -> Result<ExitCode, Failure> {
    let Some(args) = parse(args).map_err(Failure::Usage)? else {
        print!("{HELP}");
        return Ok(ExitCode::SUCCESS);
    };
    let probe = Stylizer::load(&args.model, &candle_core::Device::Cpu)
        .with_context(|| format!("cannot load the model {}", args.model.display()))?;
    let (cfg, source) = objective(&args, &probe).map_err(Failure::Usage)?;
    let device = fauve::parse_device(&cfg.device).map_err(|e| Failure::Usage(e.into()))?;
    let stylizer = if device.is_cpu() {
        probe
    } else {
        Stylizer::load(&args.model, &device).map_err(anyhow::Error::from)?
    };
    let loss = PerceptualLoss::from_config(&cfg, &device)?;
    let set = EvalSet::load(&args.photos, cfg.image_size, &loss, &device)?;
    for (path, why) in &set.skipped {
        eprintln!("warning: skipping {}: {why}", path.display());
    }
    let w = loss.weights();
    eprintln!(
        "scoring {} on {} photos at {} px; objective from {source} ({}; content weight {:.4e}, style weight {:.4e})",
        args.model.display(),
        set.len(),
        cfg.image_size,
        loss.describe(),
        w.content,
        w.style
    );
    let result = set.evaluate(&loss, |x| Ok(stylizer.forward(x)?))?;
    for (path, v) in &result.per_photo {
        println!("{}  {v}", path.display());
    }
    println!("mean over {} photos: {}", set.len(), result.mean);
    Ok(ExitCode::SUCCESS)
}
