//! `fauve-infer`: stylize photos with a trained Fauve model (or a converted pytorch/examples
//! checkpoint), one forward pass per image.

mod outputs;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Parser;
use fauve::Stylizer;

use outputs::{expand_inputs, file_name_safe, same_file, OutputTarget};

/// Stylize images with a trained Fauve style model.
///
/// Each input file (or each image in an input folder) is stylized in one forward pass and
/// written as <name>-<style>.<ext>, next to the input or into the -o folder. An input that
/// cannot be read is reported and skipped; the exit code is then 1.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Args {
    /// Model file (.safetensors) written by fauve-train or scripts/convert-pytorch-checkpoint.py.
    #[arg(short, long, value_name = "FILE")]
    model: PathBuf,

    /// Images or folders of images to stylize.
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,

    /// Output folder (created if missing), or an output file name (.png/.jpg) for a single
    /// input. Default: next to each input.
    #[arg(short, long, value_name = "PATH")]
    output: Option<PathBuf>,

    /// Shrink each image so that its longest side is at most this many pixels (after --scale).
    #[arg(long, value_name = "PIXELS", value_parser = clap::value_parser!(u32).range(8..))]
    max_size: Option<u32>,

    /// Resize each image by this factor before stylizing (e.g. 0.5 for half size).
    #[arg(long, value_name = "FACTOR", value_parser = parse_scale)]
    scale: Option<f32>,

    /// Compute device: cpu, cuda, cuda:N, or auto (a GPU when compiled in and present).
    #[arg(long, default_value = "auto", value_name = "DEVICE")]
    device: String,

    /// Name part added to output files. Default: the model's style name, or its file stem.
    #[arg(long, value_name = "TEXT")]
    suffix: Option<String>,
}

fn parse_scale(s: &str) -> Result<f32, String> {
    let v: f32 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if v.is_finite() && v > 0.0 && v <= 16.0 {
        Ok(v)
    } else {
        Err(format!("scale must be in (0, 16], got {s}"))
    }
}

fn style_suffix(args: &Args, stylizer: &Stylizer) -> String {
    let name = args
        .suffix
        .clone()
        .or_else(|| stylizer.metadata().style_name.clone())
        .or_else(|| {
            args.model
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    file_name_safe(&name)
}

/// Stylizes one image and writes it; returns the forward-pass milliseconds.
fn stylize_one(
    stylizer: &Stylizer,
    args: &Args,
    input: &Path,
    output: &Path,
) -> Result<(u32, u32, f64)> {
    let img = fauve::load_image(input)?;
    let img = fauve::resize_for_stylizing(&img, args.scale, args.max_size);
    let start = Instant::now();
    let out = stylizer.stylize(&img)?;
    stylizer.device().synchronize()?;
    let ms = start.elapsed().as_secs_f64() * 1e3;
    if let Some(dir) = output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    fauve::save_image(&out, output)?;
    Ok((out.width(), out.height(), ms))
}

fn run(args: Args) -> Result<ExitCode> {
    let device = fauve::parse_device(&args.device)?;
    let inputs = expand_inputs(&args.inputs)?;
    if inputs.is_empty() {
        bail!("no images to stylize");
    }
    let target = OutputTarget::from_arg(args.output.as_deref(), inputs.len())?;

    let load_start = Instant::now();
    let stylizer = Stylizer::load(&args.model, &device)
        .with_context(|| format!("cannot load model {}", args.model.display()))?;
    let suffix = style_suffix(&args, &stylizer);
    eprintln!(
        "loaded {} ({}) on {} in {:.0} ms",
        args.model.display(),
        stylizer
            .metadata()
            .style_name
            .as_deref()
            .unwrap_or("no style name"),
        if device.is_cpu() { "cpu" } else { "cuda" },
        load_start.elapsed().as_secs_f64() * 1e3
    );

    let mut failed = 0usize;
    let mut times = Vec::new();
    for input in &inputs {
        let output = target.path_for(input, &suffix);
        if inputs.iter().any(|i| same_file(i, &output)) {
            eprintln!(
                "error: {}: output {} would overwrite an input; skipped",
                input.display(),
                output.display()
            );
            failed += 1;
            continue;
        }
        match stylize_one(&stylizer, &args, input, &output) {
            Ok((w, h, ms)) => {
                println!(
                    "{} -> {} ({w}x{h}, {ms:.1} ms)",
                    input.display(),
                    output.display()
                );
                times.push(ms);
            }
            Err(e) => {
                eprintln!("error: {}: {e:#}; skipped", input.display());
                failed += 1;
            }
        }
    }
    if !times.is_empty() {
        times.sort_by(f64::total_cmp);
        eprintln!(
            "stylized {} image(s), median forward pass {:.1} ms",
            times.len(),
            times[times.len() / 2]
        );
    }
    if failed > 0 {
        eprintln!("error: {failed} of {} image(s) failed", inputs.len());
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    fauve::keep_freed_memory();
    let args = Args::parse();
    match run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
