//! `--stroke-scale S` (issue 34): the shipped Starry Night's strokes come out about S times as
//! long, measured from the power spectrum of the result; tiling and video take the flag.

use std::path::{Path, PathBuf};
use std::process::Command;

use fauve::image::{DynamicImage, Rgb, RgbImage};
use fauve_tests::text;
use rustfft::num_complex::Complex32;
use rustfft::FftPlanner;

const FAUVE_INFER: &str = env!("CARGO_BIN_EXE_fauve-infer");

fn shipped_model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../styles/starry_night.safetensors")
}

/// A photo with nothing finer than large soft shapes, so that the fine texture of the result
/// is the network's strokes (and the detail added back after enlarging is about zero).
fn soft_photo(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let (x, y) = (x as f32 / w as f32, y as f32 / h as f32);
        let wave = |fx: f32, fy: f32, phase: f32| {
            (std::f32::consts::TAU * (fx * x + fy * y) + phase).sin()
        };
        let c = |base: f32, a: f32, b: f32, p: f32| {
            (base + 60.0 * wave(a, b, p) + 30.0 * wave(b, a, 2.0 * p)).clamp(0.0, 255.0) as u8
        };
        Rgb([
            c(140.0, 1.5, 0.7, 0.3),
            c(120.0, 0.8, 1.3, 1.1),
            c(100.0, 1.1, 2.1, 2.0),
        ])
    })
}

/// The power-weighted mean period (pixels) of the luminance of the `side` x `side` centre of
/// `img`, over periods from 2 to `side / 8` pixels (the photo's own shapes are far longer), with a
/// Hann window against the crop's edges.
fn mean_period(img: &RgbImage, side: usize) -> f64 {
    let (x0, y0) = (
        (img.width() as usize - side) / 2,
        (img.height() as usize - side) / 2,
    );
    let hann = |i: usize| 0.5 - 0.5 * (std::f32::consts::TAU * i as f32 / side as f32).cos();
    let luma = |x: usize, y: usize| {
        let p = img
            .get_pixel((x0 + x) as u32, (y0 + y) as u32)
            .0
            .map(f32::from);
        0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]
    };
    let mean = (0..side * side)
        .map(|i| luma(i % side, i / side))
        .sum::<f32>()
        / (side * side) as f32;
    let mut data: Vec<Complex32> = (0..side * side)
        .map(|i| {
            let (x, y) = (i % side, i / side);
            Complex32::new((luma(x, y) - mean) * hann(x) * hann(y), 0.0)
        })
        .collect();
    let fft = FftPlanner::new().plan_fft_forward(side);
    for row in data.chunks_mut(side) {
        fft.process(row);
    }
    let mut column = vec![Complex32::default(); side];
    for x in 0..side {
        column
            .iter_mut()
            .enumerate()
            .for_each(|(y, c)| *c = data[y * side + x]);
        fft.process(&mut column);
        column
            .iter()
            .enumerate()
            .for_each(|(y, c)| data[y * side + x] = *c);
    }
    let (mut weighted, mut total) = (0f64, 0f64);
    for (i, c) in data.iter().enumerate() {
        let signed = |k: usize| {
            if k <= side / 2 {
                k as f64
            } else {
                k as f64 - side as f64
            }
        };
        let f = (signed(i % side).hypot(signed(i / side))) / side as f64;
        if f >= 8.0 / side as f64 && f <= 0.5 {
            let power = f64::from(c.norm_sqr());
            weighted += power * f;
            total += power;
        }
    }
    total / weighted
}

fn stylize(dir: &Path, photo: &Path, name: &str, extra: &[&str]) -> RgbImage {
    let out = dir.join(name);
    let o = Command::new(FAUVE_INFER)
        .args(["--device", "cpu", "--model"])
        .arg(shipped_model())
        .arg(photo)
        .arg("-o")
        .arg(&out)
        .args(extra)
        .output()
        .expect("fauve-infer runs");
    assert!(o.status.success(), "{}", text(&o));
    fauve::image::open(&out).expect("output").to_rgb8()
}

/// On a 2048 px photo, `--stroke-scale 2` doubles the strokes' period (within 25%), and the
/// result keeps the photo's size.
#[test]
fn a_stroke_scale_of_two_doubles_the_stroke_period() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let photo = dir.path().join("photo.png");
    DynamicImage::ImageRgb8(soft_photo(2048, 1536)).save(&photo)?;
    let plain = stylize(dir.path(), &photo, "s1.png", &[]);
    let doubled = stylize(dir.path(), &photo, "s2.png", &["--stroke-scale", "2"]);
    assert_eq!(doubled.dimensions(), (2048, 1536));
    let (p1, p2) = (mean_period(&plain, 1024), mean_period(&doubled, 1024));
    eprintln!("mean stroke period: {p1:.2} px at scale 1, {p2:.2} px at scale 2");
    let ratio = p2 / p1;
    assert!(
        (1.5..=2.5).contains(&ratio),
        "period ratio {ratio:.2} ({p1:.2} -> {p2:.2} px)"
    );
    Ok(())
}

/// Tiles (asked for, or forced by a small memory budget) and video frames take the stroke
/// scale: tiles of the shrunk photo give the untiled result (whole-image statistics), and a
/// video's frames keep their size.
#[test]
fn tiling_and_video_take_the_stroke_scale() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let photo = dir.path().join("photo.png");
    DynamicImage::ImageRgb8(soft_photo(400, 300)).save(&photo)?;
    let whole = stylize(dir.path(), &photo, "whole.png", &["--stroke-scale", "3"]);
    let tiled = stylize(
        dir.path(),
        &photo,
        "tiled.png",
        &["--stroke-scale", "3", "--tile", "64"],
    );
    let worst = whole
        .pixels()
        .zip(tiled.pixels())
        .flat_map(|(a, b)| a.0.iter().zip(b.0).map(|(x, y)| x.abs_diff(y)))
        .max();
    assert!(
        worst.is_some_and(|d| d <= 2),
        "tiled differs by {worst:?} levels"
    );

    let frames = dir.path().join("frames");
    std::fs::create_dir_all(&frames)?;
    for i in 0..3 {
        DynamicImage::ImageRgb8(soft_photo(160, 120)).save(frames.join(format!("f{i}.png")))?;
    }
    let out = dir.path().join("video-out");
    let o = Command::new(FAUVE_INFER)
        .args(["--device", "cpu", "--model"])
        .arg(shipped_model())
        .args(["--video", "--stroke-scale", "2"])
        .arg(&frames)
        .arg("-o")
        .arg(&out)
        .output()?;
    assert!(o.status.success(), "{}", text(&o));
    let written: Vec<_> = std::fs::read_dir(&out)?.collect::<Result<_, _>>()?;
    assert_eq!(written.len(), 3);
    for e in written {
        let img = fauve::image::open(e.path())?;
        assert_eq!((img.width(), img.height()), (160, 120));
    }
    Ok(())
}
