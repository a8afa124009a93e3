//! `fauve-infer`: stylize photos with a trained Fauve model (or a converted pytorch/examples
//! checkpoint), one forward pass per image.

mod ffmpeg;
mod inputs;
mod outputs;
mod progress;
mod styles;
mod video;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{CommandFactory, Parser};
use fauve::{StyleOptions, Stylizer, MIN_SIDE};

use inputs::expand_inputs;
use outputs::{file_name_safe, OutputTarget, OverwriteGuard};

/// Stylize images with a trained Fauve style model.
///
/// Each input file (or each image in an input folder, searched recursively) is stylized in one
/// forward pass and written as <name>-<style>.<ext>, next to the input or into the -o folder,
/// which then mirrors the input folders' sub-folders. A missing or unreadable input is reported
/// and skipped; the others are still written.
///
/// Exit codes: 0 all written, 1 some input failed (or the model could not be loaded), 2 a
/// usage error.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Args {
    /// Model file (.safetensors) written by fauve-train or scripts/convert-pytorch-checkpoint.py.
    #[arg(short, long, value_name = "FILE")]
    model: PathBuf,

    /// Images or folders of images to stylize.
    #[arg(required_unless_present = "list_styles", value_name = "INPUT")]
    inputs: Vec<PathBuf>,

    /// Which style of a multi-style model: its name or index (see --list-styles). A
    /// multi-style model needs --style or --mix.
    #[arg(long, value_name = "NAME|INDEX", conflicts_with = "mix")]
    style: Option<String>,

    /// A mix of a multi-style model's styles, NAME=WEIGHT,... (e.g.
    /// "starry_night=0.7,autumn=0.3"): their norm parameters are mixed with the weights,
    /// scaled to sum to 1.
    #[arg(long, value_name = "NAME=W,...")]
    mix: Option<String>,

    /// List the model's styles (index, name, the painting each was trained on) and exit.
    #[arg(long)]
    list_styles: bool,

    /// Output folder (created if missing), or, for a single image, an output file whose
    /// extension picks the format (.png, .jpg, .webp, .bmp, .tif, .gif). Default: next to each
    /// input.
    #[arg(short, long, value_name = "PATH")]
    output: Option<PathBuf>,

    /// Shrink each image so that its longest side is at most this many pixels (after --scale).
    #[arg(long, value_name = "PIXELS", value_parser = parse_max_size, allow_negative_numbers = true)]
    max_size: Option<u32>,

    /// Resize each image by this factor before stylizing (e.g. 0.5 for half size).
    #[arg(long, value_name = "FACTOR", value_parser = parse_scale, allow_negative_numbers = true)]
    scale: Option<f32>,

    /// Compute device: cpu, cuda, cuda:N, or auto (a GPU when compiled in and present).
    #[arg(long, default_value = "auto", value_name = "DEVICE")]
    device: String,

    /// Name part added to output files. Default: the model's style name, or its file stem.
    #[arg(long, value_name = "TEXT")]
    suffix: Option<String>,

    /// How much of the style to apply: 0 gives the photo back, 1 the full style, values between
    /// a blend of the two.
    #[arg(long, default_value_t = 1.0, value_name = "S", value_parser = parse_strength, allow_negative_numbers = true)]
    strength: f32,

    /// Keep the photo's colours: take only the luminance (brightness) of the stylized image.
    #[arg(long)]
    preserve_colors: bool,

    /// Stylize in tiles of this many pixels a side (with whole-image statistics, so no seams),
    /// whatever the image's size. Default: tiles only when one pass would exceed --max-memory.
    #[arg(long, value_name = "PIXELS", value_parser = parse_tile)]
    tile: Option<u32>,

    /// Context added around each tile, in pixels (rounded up to a multiple of 4). The default
    /// is the network's receptive-field radius: tiles then match one pass.
    #[arg(long, value_name = "PIXELS", default_value_t = fauve::DEFAULT_OVERLAP,
          value_parser = parse_overlap)]
    tile_overlap: u32,

    /// Treat the input as one video: a folder of frames (in number order) or a video file (needs
    /// the ffmpeg program). Frames are tied together so that still parts stay still. Output: a
    /// folder of frames, or a video file when -o names one (.mp4, .mkv, ...).
    #[arg(long)]
    video: bool,

    /// Frame rate of a video made from a folder of frames (default 25; a video file keeps its
    /// own).
    #[arg(long, value_name = "FPS", value_parser = parse_fps, requires = "video")]
    fps: Option<f64>,

    /// With --video: how much of the previous stylized frame, moved with the camera, is mixed
    /// into each new one where the photo did not change (0 to below 1; 0 mixes none).
    #[arg(long, value_name = "B", default_value_t = fauve::DEFAULT_BLEND, value_parser = parse_blend, requires = "video")]
    video_blend: f32,

    /// Memory budget for one forward pass, e.g. 2G or 512M: larger images are stylized in tiles
    /// that fit, and an image that would take more than this decoded is refused. Default: half
    /// the available memory (CPU) or 80% of the GPU's free memory.
    #[arg(long, value_name = "SIZE", value_parser = parse_memory)]
    max_memory: Option<u64>,
}

fn parse_fps(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 1000.0 => Ok(v),
        _ => Err("the frame rate must be a number above 0 (e.g. 24, 29.97)".into()),
    }
}

fn parse_blend(s: &str) -> Result<f32, String> {
    match s.parse::<f32>() {
        Ok(v) if (0.0..1.0).contains(&v) => Ok(v),
        _ => Err("the blend must be at least 0 and below 1".into()),
    }
}

fn parse_tile(s: &str) -> Result<u32, String> {
    let v: u32 = s
        .parse()
        .map_err(|_| "the tile side must be a whole number of pixels".to_string())?;
    if !(MIN_SIDE..=fauve::MAX_TILE).contains(&v) {
        return Err(format!(
            "the tile side must be {MIN_SIDE} to {} pixels",
            fauve::MAX_TILE
        ));
    }
    Ok(v)
}

fn parse_overlap(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(v) if v <= fauve::MAX_OVERLAP => Ok(v),
        _ => Err(format!(
            "the overlap must be a whole number of pixels, at most {}",
            fauve::MAX_OVERLAP
        )),
    }
}

/// `2G`, `512M`, `800K` or a number of bytes (binary units, any case, optional `B`/`iB`).
fn parse_memory(s: &str) -> Result<u64, String> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.trim_end_matches("ib").trim_end_matches('b');
    let (digits, shift) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 10),
        Some('m') => (&t[..t.len() - 1], 20),
        Some('g') => (&t[..t.len() - 1], 30),
        Some('t') => (&t[..t.len() - 1], 40),
        _ => (t, 0),
    };
    let v: f64 = digits.trim().parse().map_err(|_| {
        "the size must be a number with an optional unit: 2G, 512M, 800K".to_string()
    })?;
    let bytes = v * (1u64 << shift) as f64;
    if !(bytes.is_finite() && bytes >= (16u64 << 20) as f64) {
        return Err("the memory budget must be at least 16M".into());
    }
    Ok(bytes as u64)
}

fn parse_strength(s: &str) -> Result<f32, String> {
    let v: f32 = s
        .parse()
        .map_err(|_| "the strength must be a number".to_string())?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err("the strength must be between 0 (the photo) and 1 (the full style)".into())
    }
}

fn parse_scale(s: &str) -> Result<f32, String> {
    // clap's message already quotes the value: these say only what is wrong with it.
    let v: f32 = s
        .parse()
        .map_err(|_| "the scale must be a number".to_string())?;
    if v.is_finite() && v > 0.0 && v <= 16.0 {
        Ok(v)
    } else {
        Err("the scale must be above 0 and at most 16 (0.5 halves each side)".into())
    }
}

fn parse_max_size(s: &str) -> Result<u32, String> {
    let v: u32 = s
        .parse()
        .map_err(|_| "the size must be a whole number of pixels".to_string())?;
    if v < MIN_SIDE {
        return Err(format!(
            "the size must be at least {MIN_SIDE} pixels, the smallest side the network accepts"
        ));
    }
    Ok(v)
}

fn style_suffix(args: &Args, stylizer: &Stylizer, choice: &fauve::StyleChoice) -> String {
    let name = args
        .suffix
        .clone()
        .or_else(|| styles::choice_name(stylizer, choice))
        .or_else(|| stylizer.metadata().style_name.clone())
        .or_else(|| {
            args.model
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    file_name_safe(&name)
}

/// Stylizes one image and writes it; returns its size and the forward-pass milliseconds.
/// Errors name the input once (the library's errors already carry the path they concern).
fn stylize_one(
    stylizer: &Stylizer,
    args: &Args,
    choice: &fauve::StyleChoice,
    input: &Path,
    output: &Path,
) -> Result<(u32, u32, f64)> {
    let original = match args.max_memory {
        Some(budget) => fauve::load_image_within(input, budget)?,
        None => fauve::load_image(input)?,
    };
    let img = fauve::resize_for_stylizing(&original, args.scale, args.max_size);
    let (w, h) = (img.width(), img.height());
    if w.min(h) < MIN_SIDE && original.width().min(original.height()) >= MIN_SIDE {
        anyhow::bail!(
            "{}: --scale/--max-size make it {w}x{h}, below the {MIN_SIDE} pixels a side the network needs",
            input.display()
        );
    }
    let start = Instant::now();
    let options = StyleOptions {
        style: choice.clone(),
        strength: args.strength,
        preserve_colors: args.preserve_colors,
        tile: args.tile,
        overlap: args.tile_overlap,
        max_memory: args.max_memory,
    };
    let tiling = stylizer.tiling_for(w, h, &options)?;
    if let Some(tiling) = tiling {
        eprintln!(
            "{}: {w}x{h} in tiles of {} px (+{} px context), whole-image norm statistics",
            input.display(),
            tiling.tile(),
            tiling.overlap()
        );
    }
    let mut bar = progress::Bar::new(input);
    let out = stylizer
        .stylize_planned(&img, &options, tiling, &mut |done, total| {
            bar.update(done, total)
        })
        .with_context(|| input.display().to_string())?;
    bar.finish();
    stylizer.device().synchronize()?;
    let ms = start.elapsed().as_secs_f64() * 1e3;
    if let Some(dir) = output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create folder {}", dir.display()))?;
    }
    fauve::save_image(&out, output)?;
    Ok((out.width(), out.height(), ms))
}

/// Reports a usage error as clap reports its own (message, usage line) and exits with 2.
fn usage_error(e: impl std::fmt::Display) -> ! {
    Args::command()
        .error(clap::error::ErrorKind::ValueValidation, e)
        .exit()
}

fn run(args: Args) -> Result<ExitCode> {
    let device = fauve::parse_device(&args.device)
        .unwrap_or_else(|e| usage_error(format!("--device: {}", fauve::report(&e))));
    if args.list_styles {
        let stylizer = Stylizer::load(&args.model, &device).context("cannot load the model")?;
        print!("{}", styles::listing(&stylizer));
        return Ok(ExitCode::SUCCESS);
    }
    if args.video {
        return run_video(&args, &device);
    }
    let target = OutputTarget::from_arg(args.output.as_deref())
        .unwrap_or_else(|e| usage_error(fauve::report(e.as_ref())));
    let skip = match &target {
        OutputTarget::Folder(dir) => Some(dir.as_path()),
        _ => None,
    };
    let expanded = expand_inputs(&args.inputs, skip);
    if let Err(e) = target.check_count(expanded.jobs.len()) {
        usage_error(fauve::report(e.as_ref()));
    }
    let mut failed = expanded.problems.len();
    for problem in &expanded.problems {
        eprintln!("error: {problem}; skipped");
    }
    if expanded.jobs.is_empty() {
        anyhow::bail!("no images to stylize");
    }

    let load_start = Instant::now();
    let stylizer = Stylizer::load(&args.model, &device).context("cannot load the model")?;
    let choice = styles::choice(&args, &stylizer).unwrap_or_else(|e| usage_error(e));
    let suffix = style_suffix(&args, &stylizer, &choice);
    eprintln!(
        "loaded {} ({}) on {} in {:.0} ms",
        args.model.display(),
        styles::describe(&stylizer, &choice),
        if device.is_cpu() { "cpu" } else { "cuda" },
        load_start.elapsed().as_secs_f64() * 1e3
    );

    let mut guard = OverwriteGuard::new(&expanded.jobs);
    let mut times = Vec::new();
    for job in &expanded.jobs {
        let output = target.path_for(job, &suffix);
        let result = guard
            .claim(&output)
            .and_then(|()| stylize_one(&stylizer, &args, &choice, &job.input, &output));
        match result {
            Ok((w, h, ms)) => {
                guard.written(&output);
                println!(
                    "{} -> {} ({w}x{h}, {ms:.1} ms)",
                    job.input.display(),
                    output.display()
                );
                times.push(ms);
            }
            Err(e) => {
                eprintln!("error: {}; skipped", fauve::report(e.as_ref()));
                failed += 1;
            }
        }
    }
    eprintln!("{}", summary(&mut times, failed, expanded.non_images));
    Ok(if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `--video`: one video in, one out.
fn run_video(args: &Args, device: &fauve::candle_core::Device) -> Result<ExitCode> {
    let [input] = args.inputs.as_slice() else {
        usage_error("--video takes one input: a folder of frames or a video file");
    };
    if args.tile.is_some() || args.max_memory.is_some() {
        usage_error("--tile and --max-memory do not apply to --video (frames go through whole)");
    }
    let stylizer = Stylizer::load(&args.model, device).context("cannot load the model")?;
    let choice = styles::choice(args, &stylizer).unwrap_or_else(|e| usage_error(e));
    let suffix = style_suffix(args, &stylizer, &choice);
    let options = StyleOptions {
        style: choice,
        strength: args.strength,
        preserve_colors: args.preserve_colors,
        ..StyleOptions::default()
    };
    let video = fauve::VideoOptions {
        blend: args.video_blend,
        ..fauve::VideoOptions::default()
    };
    let done = video::stylize_video(
        &stylizer,
        input,
        args.output.as_deref(),
        &suffix,
        args.fps,
        options,
        video,
    )?;
    println!(
        "{} -> {} ({} frames, {:.2} frames/s)",
        input.display(),
        done.output.display(),
        done.frames,
        done.fps
    );
    if let Some(warning) = done.warning {
        eprintln!("error: {warning}");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// The closing line: how many images were written, their median time, what failed and what
/// was passed over.
fn summary(times: &mut [f64], failed: usize, non_images: usize) -> String {
    let mut parts = vec![format!("stylized {} image(s)", times.len())];
    if !times.is_empty() {
        times.sort_by(f64::total_cmp);
        parts[0].push_str(&format!(
            ", median forward pass {:.1} ms",
            times[times.len() / 2]
        ));
    }
    if failed > 0 {
        parts.push(format!("{failed} failed"));
    }
    if non_images > 0 {
        parts.push(format!(
            "{non_images} file(s) in the folders are not images and were left alone"
        ));
    }
    parts.join("; ")
}

fn main() -> ExitCode {
    fauve::keep_freed_memory();
    let args = Args::parse();
    match run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", fauve::report(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}
