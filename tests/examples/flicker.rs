//! Flicker of a stylized pan, per-frame normalisation against running statistics: the figures
//! of docs/video.md.
//!
//! cargo run --release -p fauve-tests --example flicker -- MODEL PHOTO [WIDTH FRAMES NOISE]

use std::path::Path;

use fauve::image::DynamicImage;
use fauve::{StyleOptions, Stylizer, VideoOptions};
use fauve_tests::{pan_flicker, panning_frames};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (model, photo) = match args.as_slice() {
        [m, p, ..] => (m, p),
        _ => anyhow::bail!("usage: flicker MODEL PHOTO [WIDTH FRAMES NOISE]"),
    };
    let num = |i: usize, default: f64| -> anyhow::Result<f64> {
        Ok(args
            .get(i)
            .map(|s| s.parse())
            .transpose()?
            .unwrap_or(default))
    };
    let (width, n, sigma) = (num(2, 384.0)? as u32, num(3, 12.0)? as u32, num(4, 3.0)?);
    let device = fauve::parse_device("auto")?;
    let stylizer = Stylizer::load(model, &device)?;
    let photo = fauve::load_image(Path::new(photo))?.to_rgb8();
    let frames = panning_frames(&photo, width, n, 2, sigma);
    let start = std::time::Instant::now();
    let per_frame: Vec<_> = frames
        .iter()
        .map(|f| stylizer.stylize(&DynamicImage::ImageRgb8(f.clone())))
        .collect::<fauve::Result<_>>()?;
    let per_frame_s = start.elapsed().as_secs_f64();
    println!(
        "{n} frames of {width}x{}, pan 2 px/frame, noise sigma {sigma}: input {:.3} levels; per-frame {:.3} ({:.1} fps)",
        photo.height(),
        pan_flicker(&frames, 2),
        pan_flicker(&per_frame, 2),
        f64::from(n) / per_frame_s,
    );
    let defaults = VideoOptions::default();
    for (name, video) in [
        (
            "running statistics",
            VideoOptions {
                align: false,
                blend: 0.0,
                ..defaults
            },
        ),
        (
            "+ grid alignment",
            VideoOptions {
                blend: 0.0,
                ..defaults
            },
        ),
        (
            "+ blend 0.3",
            VideoOptions {
                blend: 0.3,
                ..defaults
            },
        ),
        ("+ blend 0.5 (default)", defaults),
        (
            "+ blend 0.7",
            VideoOptions {
                blend: 0.7,
                ..defaults
            },
        ),
    ] {
        let mut seq = stylizer.sequence(StyleOptions::default(), video)?;
        let start = std::time::Instant::now();
        let out: Vec<_> = frames
            .iter()
            .map(|f| seq.stylize(&DynamicImage::ImageRgb8(f.clone())))
            .collect::<fauve::Result<_>>()?;
        let secs = start.elapsed().as_secs_f64();
        // FLICKER_SHEET=FILE: frames 5 and 6, per-frame (top) and with the defaults (bottom).
        if let (Ok(path), true) = (std::env::var("FLICKER_SHEET"), video == defaults) {
            let (w, h) = out[0].dimensions();
            let mut sheet = fauve::image::RgbImage::new(2 * w, 2 * h);
            for (row, set) in [&per_frame, &out].into_iter().enumerate() {
                for (col, t) in [5, 6].into_iter().enumerate() {
                    let (x, y) = (col as i64 * i64::from(w), row as i64 * i64::from(h));
                    fauve::image::imageops::replace(&mut sheet, &set[t], x, y);
                }
            }
            fauve::save_image(&sheet, Path::new(&path))?;
        }
        println!(
            "  {name}: {:.3} ({:.2} of per-frame, {:.1} fps)",
            pan_flicker(&out, 2),
            pan_flicker(&out, 2) / pan_flicker(&per_frame, 2),
            f64::from(n) / secs
        );
    }
    Ok(())
}
