//! `fauve-train preview`: one photo stylized by optimisation (Gatys et al.) under the loss a
//! config would train with, in minutes, to choose weights and a style size before training.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use anyhow::{bail, Context, Result};
use candle_core::Tensor;
use image::{imageops, Rgb, RgbImage};

use fauve_train::config::{self, TrainConfig};
use fauve_train::perceptual::{LossWeights, PerceptualLoss};
use fauve_train::preview::{self, LossValues};
use fauve_train::progress::Progress;

use crate::Failure;

pub const HELP: &str = "Preview a style in minutes: optimise the pixels of one photo (Gatys et al., L-BFGS) against
exactly the loss that training with the same settings would use (VGG file, style image and
size, layers, weights). See what a content/style weight or a style size will look like before
spending a night training a network for it. About two minutes at 256 px on 2 CPU cores.

Usage: fauve-train preview PHOTO -o OUT [--config FILE] [--iterations N] [--size PX] [--KEY VALUE]...

Options:
  -o, --output OUT       where to write the result (png, jpg, webp, ...)
  --config FILE          the training config whose loss to use (default: the built-in defaults)
  --iterations N         L-BFGS iterations [default: 200]
  --size PX              longest side of the photo, in pixels [default: 256]
  --content-weight A,B   comma lists of weights: one preview per combination, written as one
  --style-weight X,Y     grid (rows: content weights, columns: style weights), photo first
  --KEY VALUE            any training setting (see fauve-train --help), e.g. --style-size 384
  -h, --help             print this help

The loss terms are printed at the start and the end; the image starts as the photo, so the
content is there from the first iteration and the style grows into it.
";

/// Parsed `preview` arguments.
struct Args {
    photo: PathBuf,
    output: PathBuf,
    config: Option<PathBuf>,
    iterations: usize,
    size: u32,
    content_weights: Vec<Option<f64>>,
    style_weights: Vec<Option<f64>>,
    overrides: Vec<String>,
}

fn weight_list(flag: &str, raw: &str) -> Result<Vec<Option<f64>>> {
    raw.split(',')
        .map(|v| match v.trim().parse::<f64>() {
            Ok(w) if w.is_finite() && w >= 0.0 => Ok(Some(w)),
            _ => bail!("--{flag} takes numbers >= 0 separated by commas, got `{raw}`"),
        })
        .collect()
}

fn parse(args: Vec<String>) -> Result<Option<Args>> {
    let mut photo = None;
    let mut output = None;
    let mut config = None;
    let mut iterations = 200;
    let mut size = 256;
    let mut content_weights = vec![None];
    let mut style_weights = vec![None];
    let mut overrides = Vec::new();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        let mut value = |name: &str| -> Result<String> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => it.next().with_context(|| format!("`{name}` needs a value")),
            }
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "-o" | "--output" => output = Some(PathBuf::from(value("--output")?)),
            "--config" => config = Some(PathBuf::from(value("--config")?)),
            "--iterations" => {
                let v = value("--iterations")?;
                iterations = v.parse().ok().filter(|&n| n > 0).with_context(|| {
                    format!("--iterations must be a whole number >= 1, got `{v}`")
                })?;
            }
            "--size" => {
                let v = value("--size")?;
                size =
                    v.parse().ok().filter(|&n| n >= 16).with_context(|| {
                        format!("--size must be a whole number >= 16, got `{v}`")
                    })?;
            }
            "--content-weight" => {
                content_weights = weight_list("content-weight", &value("--content-weight")?)?
            }
            "--style-weight" => {
                style_weights = weight_list("style-weight", &value("--style-weight")?)?
            }
            f if f.starts_with('-') => {
                overrides.push(a.clone());
                if inline.is_none() {
                    overrides.push(value(f)?);
                }
            }
            _ if photo.is_none() => photo = Some(PathBuf::from(a)),
            _ => bail!("unexpected argument `{a}`: preview takes one photo"),
        }
    }
    let photo = photo.context("preview needs a photo\n\nhint: fauve-train preview PHOTO -o OUT")?;
    let output = output.context("preview needs -o OUT, the file to write")?;
    fauve::output_format(&output)?;
    Ok(Some(Args {
        photo,
        output,
        config,
        iterations,
        size,
        content_weights,
        style_weights,
        overrides,
    }))
}

/// Runs `fauve-train preview ARGS...`.
pub fn run(args: Vec<String>, interrupted: &AtomicBool) -> Result<std::process::ExitCode, Failure> {
    let Some(args) = parse(args).map_err(Failure::Usage)? else {
        print!("{HELP}");
        return Ok(std::process::ExitCode::SUCCESS);
    };
    let overrides = config::parse_overrides(&args.overrides).map_err(Failure::Usage)?;
    let base = config::load(args.config.as_deref(), &overrides).map_err(Failure::Usage)?;
    let device = fauve::parse_device(&base.device).map_err(|e| Failure::Usage(e.into()))?;
    let photo = fauve::load_image(&args.photo)
        .with_context(|| format!("cannot load the photo {}", args.photo.display()))?;
    let photo = fauve::resize_for_stylizing(&photo, None, Some(args.size));
    let x = fauve::image_to_tensor(&photo, &device).map_err(anyhow::Error::from)?;

    let mut cells = Vec::new();
    let mut stopped = false;
    let combos: Vec<(Option<f64>, Option<f64>)> = args
        .content_weights
        .iter()
        .flat_map(|&c| args.style_weights.iter().map(move |&s| (c, s)))
        .collect();
    let mut loss = PerceptualLoss::from_config(&base, &device)?;
    eprintln!("loss network: {}", loss.describe());
    for (i, &(c, s)) in combos.iter().enumerate() {
        let cfg = TrainConfig {
            content_weight: c.or(base.content_weight),
            style_weight: s.or(base.style_weight),
            ..base.clone()
        };
        let w = LossWeights::from_config(&cfg, loss.vgg())?;
        loss.set_balance(w.content, w.style);
        let w = loss.weights();
        let label = format!(
            "content weight {:.4e}, style weight {:.4e}",
            w.content, w.style
        );
        eprintln!(
            "preview {}/{}: {} at {}x{} px, {} L-BFGS iterations, {label}",
            i + 1,
            combos.len(),
            args.photo.display(),
            photo.width(),
            photo.height(),
            args.iterations
        );
        let outcome = optimise_one(&loss, &x, args.iterations, interrupted)?;
        eprintln!("  start: {}", outcome.start);
        eprintln!(
            "  end:   {} after {} iterations ({} evaluations) in {:.0} s",
            outcome.end, outcome.iterations, outcome.evaluations, outcome.seconds
        );
        cells.push(fauve::tensor_to_image(&outcome.image).map_err(anyhow::Error::from)?);
        if outcome.interrupted {
            eprintln!("interrupted: writing what there is");
            stopped = true;
            break;
        }
    }
    let image = if combos.len() == 1 {
        cells.remove(0)
    } else {
        grid(
            &fauve::to_rgb(&photo),
            &cells,
            args.content_weights.len(),
            args.style_weights.len(),
        )
    };
    fauve::save_image(&image, &args.output).map_err(anyhow::Error::from)?;
    println!("preview written to {}", args.output.display());
    if combos.len() > 1 {
        println!(
            "grid: the photo, then rows of content weight {} by columns of style weight {}",
            list(&args.content_weights),
            list(&args.style_weights)
        );
    }
    if stopped {
        return Ok(std::process::ExitCode::from(130));
    }
    Ok(std::process::ExitCode::SUCCESS)
}

fn list(ws: &[Option<f64>]) -> String {
    ws.iter()
        .map(|w| w.map_or("default".into(), |w| format!("{w}")))
        .collect::<Vec<_>>()
        .join(", ")
}

fn optimise_one(
    loss: &PerceptualLoss,
    x: &Tensor,
    iterations: usize,
    interrupted: &AtomicBool,
) -> Result<preview::Outcome> {
    let progress = std::rc::Rc::new(Progress::counting(0, iterations, "iteration"));
    let bar = progress.clone();
    let outcome = preview::optimise(
        loss,
        x,
        iterations,
        move |i, v: &LossValues| bar.update(i, &v.to_string(), i % 10 == 0),
        interrupted,
    );
    progress.finish();
    outcome
}

/// The photo, then the previews in rows of `rows` x `cols`, with a 4 px gap.
fn grid(photo: &RgbImage, cells: &[RgbImage], rows: usize, cols: usize) -> RgbImage {
    const GAP: u32 = 4;
    let (w, h) = photo.dimensions();
    let gw = (cols as u32 + 1) * (w + GAP) - GAP;
    let gh = rows as u32 * (h + GAP) - GAP;
    let mut out = RgbImage::from_pixel(gw, gh, Rgb([255, 255, 255]));
    imageops::replace(&mut out, photo, 0, 0);
    for (i, cell) in cells.iter().enumerate() {
        let (r, c) = ((i / cols) as i64, (i % cols) as i64 + 1);
        imageops::replace(&mut out, cell, c * (w + GAP) as i64, r * (h + GAP) as i64);
    }
    out
}
