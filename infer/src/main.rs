//! `fauve-infer`: stylize photos with a trained Fauve model (or a converted pytorch/examples
//! checkpoint), one forward pass per image.

mod args;
mod ffmpeg;
mod inputs;
mod interrupt;
mod outputs;
mod progress;
mod styles;
mod video;

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{CommandFactory, Parser};
use fauve::{StyleOptions, Stylizer, MIN_SIDE};

use args::Args;
use fauve::file_name_safe;
use inputs::expand_inputs;
use outputs::{OutputTarget, OverwriteGuard};

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
        stroke_scale: args.stroke_scale,
    };
    let tiling = stylizer.tiling_for(w, h, &options)?;
    if let Some(tiling) = tiling {
        let (nw, nh) = fauve::stroke_network_size(w, h, args.stroke_scale);
        eprintln!(
            "{}: {nw}x{nh} in tiles of {} px (+{} px context), whole-image norm statistics",
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
    if args.tile.is_some() {
        usage_error("--tile does not apply to --video (frames go through whole)");
    }
    let stylizer = Stylizer::load(&args.model, device).context("cannot load the model")?;
    let choice = styles::choice(args, &stylizer).unwrap_or_else(|e| usage_error(e));
    let suffix = style_suffix(args, &stylizer, &choice);
    let options = StyleOptions {
        style: choice,
        strength: args.strength,
        preserve_colors: args.preserve_colors,
        stroke_scale: args.stroke_scale,
        max_memory: args.max_memory,
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
    interrupt::install();
    let args = Args::parse();
    match run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", fauve::report(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}
