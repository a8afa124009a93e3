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

use crate::failure::Failure;

/// Longest side a preview takes: L-BFGS keeps 2 x 50 f64 copies of the image, about 1.9 GB
/// for a 4:3 photo at 1024 px (7.5 GB at 2048).
pub const MAX_SIZE: u32 = 1024;

/// Preview a style in minutes: optimise the pixels of one photo (Gatys et al., L-BFGS).
///
/// The loss is exactly the one training with the same settings would use (VGG file, style
/// image and size, layers, weights): see what a content/style weight or a style size will look
/// like before spending a night training a network for it. About two minutes at 256 px on 2
/// CPU cores. The loss terms are printed at the start and the end; the image starts as the
/// photo, so the content is there from the first iteration and the style grows into it. If the
/// optimisation fails part way (or Ctrl-C), the best image reached is still written.
#[derive(Debug, clap::Args)]
#[command(long_about)]
pub struct PreviewArgs {
    /// The photo to stylize.
    #[arg(value_name = "PHOTO")]
    photo: PathBuf,

    /// Where to write the result (png, jpg, webp, ...).
    #[arg(short, long, value_name = "OUT", value_parser = output_file)]
    output: PathBuf,

    /// The training config whose loss to use (default: the built-in defaults).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// L-BFGS iterations.
    #[arg(long, default_value_t = 200, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..))]
    iterations: u32,

    /// Longest side of the photo, in pixels.
    #[arg(long, default_value_t = 256, value_name = "PX",
          value_parser = clap::value_parser!(u32).range(16..=i64::from(MAX_SIZE)))]
    size: u32,

    /// Content weights, comma separated: one preview per combination with the style weights,
    /// written as one grid (rows: content weights, columns: style weights), photo first.
    #[arg(long, value_name = "A,B", value_delimiter = ',', value_parser = weight)]
    content_weight: Vec<f64>,

    /// Style weights, comma separated (see --content-weight).
    #[arg(long, value_name = "X,Y", value_delimiter = ',', value_parser = weight)]
    style_weight: Vec<f64>,
}

fn weight(raw: &str) -> Result<f64, String> {
    match raw.trim().parse::<f64>() {
        Ok(w) if w.is_finite() && w >= 0.0 => Ok(w),
        _ => Err("weights are numbers >= 0, separated by commas".into()),
    }
}

fn output_file(raw: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(raw);
    fauve::output_format(&path).map_err(|e| e.to_string())?;
    Ok(path)
}

/// A list flag's values, or the config's own (None) when none were given.
fn or_default(list: &[f64]) -> Vec<Option<f64>> {
    if list.is_empty() {
        vec![None]
    } else {
        list.iter().map(|&w| Some(w)).collect()
    }
}

/// Refuses an output that is the photo or the painting, compared as files.
fn refuse_overwrite(args: &PreviewArgs, cfg: &TrainConfig) -> Result<()> {
    for (input, what) in [
        (&args.photo, "the photo"),
        (&cfg.style_image, "the style image"),
    ] {
        if fauve::same_file(&args.output, input) {
            bail!(
                "-o {} would overwrite {what}; give another output",
                args.output.display()
            );
        }
    }
    Ok(())
}

/// Runs `fauve-train preview`.
pub fn run(
    args: PreviewArgs,
    overrides: toml::Table,
    interrupted: &AtomicBool,
) -> Result<std::process::ExitCode, Failure> {
    let base = config::load(args.config.as_deref(), &overrides).map_err(Failure::Usage)?;
    if base.style_images.is_some() || base.extend.is_some() {
        return Err(Failure::Usage(anyhow::anyhow!(
            "preview optimises one photo toward one painting; it does not take style_images or extend\n\nhint: preview each painting with --style-image"
        )));
    }
    refuse_overwrite(&args, &base).map_err(Failure::Usage)?;
    let device = fauve::parse_device(&base.device).map_err(|e| Failure::Usage(e.into()))?;
    let photo = fauve::load_image(&args.photo)
        .with_context(|| format!("cannot load the photo {}", args.photo.display()))?;
    let photo = fauve::resize_for_stylizing(&photo, None, Some(args.size));
    let (contents, styles) = (
        or_default(&args.content_weight),
        or_default(&args.style_weight),
    );
    let combos: Vec<(Option<f64>, Option<f64>)> = contents
        .iter()
        .flat_map(|&c| styles.iter().map(move |&s| (c, s)))
        .collect();
    let cells = Cells {
        args: &args,
        base: &base,
        photo: &photo,
        device: &device,
    }
    .run(&combos, interrupted)?;
    let image = if combos.len() == 1 {
        cells.images[0].clone()
    } else {
        grid(
            &fauve::to_rgb(&photo),
            &cells.images,
            contents.len(),
            styles.len(),
        )
    };
    fauve::save_image(&image, &args.output).map_err(anyhow::Error::from)?;
    println!("preview written to {}", args.output.display());
    if combos.len() > 1 {
        println!(
            "grid: the photo, then rows of content weight {} by columns of style weight {}{}",
            list(&contents),
            list(&styles),
            if cells.images.len() < combos.len() {
                " (the cells not reached are blank)"
            } else {
                ""
            }
        );
    }
    if cells.interrupted {
        return Ok(std::process::ExitCode::from(130));
    }
    if cells.failed > 0 {
        return Err(Failure::Run(anyhow::anyhow!(
            "{} of {} previews stopped early (see above); each cell holds the best image it reached",
            cells.failed,
            combos.len()
        )));
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// What one preview run needs for each of its cells.
struct Cells<'a> {
    args: &'a PreviewArgs,
    base: &'a TrainConfig,
    photo: &'a image::DynamicImage,
    device: &'a candle_core::Device,
}

/// The cells' images, in order (fewer than asked when interrupted), and how many failed.
struct CellImages {
    images: Vec<RgbImage>,
    failed: usize,
    interrupted: bool,
}

impl Cells<'_> {
    /// One optimisation per weight combination. A failing cell keeps the best image it
    /// reached (the photo, if it failed on the photo itself) and the next cell still runs.
    fn run(
        &self,
        combos: &[(Option<f64>, Option<f64>)],
        interrupted: &AtomicBool,
    ) -> Result<CellImages> {
        let x = fauve::image_to_tensor(self.photo, self.device)?;
        let mut loss = PerceptualLoss::from_config(self.base, self.device)?;
        eprintln!("loss network: {}", loss.describe());
        let mut out = CellImages {
            images: Vec::new(),
            failed: 0,
            interrupted: false,
        };
        for (i, &(c, s)) in combos.iter().enumerate() {
            let cfg = TrainConfig {
                content_weight: c.or(self.base.content_weight),
                style_weight: s.or(self.base.style_weight),
                ..self.base.clone()
            };
            let w = LossWeights::from_config(&cfg, loss.vgg())?;
            loss.set_weights(w.content, w.style);
            let w = loss.weights();
            eprintln!(
                "preview {}/{}: {} at {}x{} px, {} L-BFGS iterations, content weight {:.4e}, style weight {:.4e}",
                i + 1,
                combos.len(),
                self.args.photo.display(),
                self.photo.width(),
                self.photo.height(),
                self.args.iterations,
                w.content,
                w.style
            );
            let outcome = match optimise_one(&loss, &x, self.args.iterations as usize, interrupted)
            {
                Ok(o) => o,
                Err(e) => {
                    eprintln!(
                        "  error: {}; this cell shows the photo",
                        fauve::report(e.as_ref())
                    );
                    out.failed += 1;
                    out.images.push(fauve::to_rgb(self.photo));
                    continue;
                }
            };
            report_outcome(&outcome);
            out.failed += usize::from(outcome.failure.is_some());
            out.images.push(fauve::tensor_to_image(&outcome.image)?);
            if outcome.interrupted {
                eprintln!("interrupted: writing what there is");
                out.interrupted = true;
                break;
            }
        }
        Ok(out)
    }
}

fn report_outcome(outcome: &preview::Outcome) {
    eprintln!("  start: {}", outcome.start);
    eprintln!(
        "  end:   {} after {} iterations ({} evaluations) in {:.0} s",
        outcome.end, outcome.iterations, outcome.evaluations, outcome.seconds
    );
    if let Some(why) = &outcome.failure {
        eprintln!(
            "  error: stopped after {} iterations: {why}; keeping the best image reached",
            outcome.iterations
        );
    }
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
