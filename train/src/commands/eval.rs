//! `fauve-train eval`: a model's mean loss on a folder of photos it never saw.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};

use fauve::{StyleChoice, Stylizer};
use fauve_train::config::{self, TrainConfig};
use fauve_train::evaluate::EvalSet;
use fauve_train::perceptual::PerceptualLoss;
use fauve_train::run_inputs::{InputHashes, STYLE_KEY, VGG_KEY};

use crate::failure::Failure;

/// Score a model on held-out photos.
///
/// The mean content, style and total loss of its outputs under the training objective, so
/// checkpoints and settings can be compared on photos they never saw (data/eval/ from
/// scripts/fetch-photos.sh is set aside for this).
#[derive(Debug, clap::Args)]
#[command(long_about)]
pub struct EvalArgs {
    /// A model file (model.safetensors or a checkpoint's step-N.safetensors).
    #[arg(long, value_name = "MODEL")]
    pub model: PathBuf,

    /// Folder of photos, searched recursively; each is centre-cropped to image_size.
    #[arg(long, value_name = "DIR")]
    pub photos: PathBuf,

    /// The objective to score with (default: the one the model was trained with, from its
    /// metadata, else the built-in defaults).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// The objective: `--config`, else the model's own training config, else the defaults; with
/// the flags applied.
fn objective(
    args: &EvalArgs,
    overrides: &toml::Table,
    stylizer: &Stylizer,
) -> Result<(TrainConfig, String)> {
    if let Some(file) = &args.config {
        return Ok((
            config::load(Some(file), overrides)?,
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
            let cfg = config::from_saved_table(table, overrides, &source)?;
            check_own_inputs(args, overrides, stylizer, &cfg)?;
            Ok((cfg, source))
        }
        None => Ok((
            config::load(None, overrides)?,
            "the built-in defaults".into(),
        )),
    }
}

/// Scoring under the model's own objective: the painting and VGG file it names (unless a flag
/// replaced them) must be the files it was trained with, else the scores are not comparable.
fn check_own_inputs(
    args: &EvalArgs,
    overrides: &toml::Table,
    stylizer: &Stylizer,
    cfg: &TrainConfig,
) -> Result<()> {
    let training = stylizer.metadata().training.as_ref();
    let recorded = |key: &str, flag: &str| {
        training
            .and_then(|t| t.get(key))
            .and_then(|v| v.as_str())
            .filter(|_| !overrides.contains_key(flag))
    };
    let style = recorded(STYLE_KEY, "style_image");
    let vgg = recorded(VGG_KEY, "vgg");
    if style.is_none() && vgg.is_none() {
        return Ok(());
    }
    InputHashes::of(cfg)?.check(
        cfg,
        style,
        vgg,
        &args.model,
        "its scores would not be those of its own objective",
        "put the original file back, or name the files to score with (--style-image, --vgg or --config)",
    )
}

/// Runs `fauve-train eval`.
pub fn run(args: EvalArgs, overrides: toml::Table) -> Result<ExitCode, Failure> {
    let probe = Stylizer::load(&args.model, &candle_core::Device::Cpu)
        .with_context(|| format!("cannot load the model {}", args.model.display()))?;
    let (cfg, source) = objective(&args, &overrides, &probe).map_err(Failure::Usage)?;
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
    let names = stylizer.styles();
    if names.len() != loss.n_styles() {
        return Err(Failure::Usage(anyhow::anyhow!(
            "the model holds {} style(s) but the objective has {} painting(s)\n\nhint: score with the model's own config, or a --config whose style_images match its styles",
            names.len(),
            loss.n_styles()
        )));
    }
    for (i, name) in names.iter().enumerate() {
        let one = stylizer
            .with_style(&StyleChoice::Index(i))
            .map_err(anyhow::Error::from)?;
        let result = set.evaluate_style(&loss, i, |x| Ok(one.forward(x)?))?;
        let label = if names.len() > 1 {
            format!("{name}: ")
        } else {
            String::new()
        };
        for (path, v) in &result.per_photo {
            println!("{label}{}  {v}", path.display());
        }
        println!("{label}mean over {} photos: {}", set.len(), result.mean);
    }
    Ok(ExitCode::SUCCESS)
}
