//! Soak tests of memory (scripts/soak.sh drives them):
//!
//! - `soak photos DIR N`: writes N textured photos of mixed sizes (64 to 720 px a side, PNG
//!   and JPEG) for a long `fauve-infer` run.
//! - `soak threads MODEL MINUTES`: one `Stylizer` shared by 4 threads, each stylizing photos
//!   of mixed sizes for MINUTES; prints the resident memory after the first 50 images and at
//!   the end, and fails (exit 1) if the end is more than 10% above it or any image failed.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use fauve::image::{DynamicImage, Rgb, RgbImage};

/// The sides photos are drawn from (width and height independently).
const SIDES: [u32; 6] = [64, 150, 240, 333, 512, 720];

/// A textured photo of `w` x `h`, different for each `i`.
fn photo(w: u32, h: u32, i: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let v = x
            .wrapping_mul(31)
            .wrapping_add(y.wrapping_mul(17))
            .wrapping_add(i * 101);
        Rgb([
            (v % 251) as u8,
            ((x ^ y) % 253) as u8,
            ((x * y + i) % 241) as u8,
        ])
    })
}

/// The size of photo `i`: the largest for the first four (each thread's first image, so that
/// "after the first 50" is after every thread has held its largest buffers), then a fixed
/// pseudo-random draw from [`SIDES`].
fn size_of(i: u32) -> (u32, u32) {
    if i < 4 {
        return (720, 720);
    }
    let a = (i.wrapping_mul(2654435761) >> 16) as usize;
    (
        SIDES[a % SIDES.len()],
        SIDES[(a / SIDES.len()) % SIDES.len()],
    )
}

/// Resident memory of this process, in bytes (Linux).
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn photos(dir: &Path, n: u32) -> fauve::Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| fauve::Error::Invalid(e.to_string()))?;
    for i in 0..n {
        let (w, h) = size_of(i);
        let ext = if i % 3 == 0 { "jpg" } else { "png" };
        fauve::save_image(&photo(w, h, i), &dir.join(format!("p{i:04}.{ext}")))?;
    }
    println!("wrote {n} photos to {}", dir.display());
    Ok(())
}

fn threads(model: &Path, minutes: f64) -> fauve::Result<bool> {
    fauve::keep_freed_memory();
    let stylizer = fauve::Stylizer::load(model, &fauve::parse_device("cpu")?)?;
    let deadline = Instant::now() + Duration::from_secs_f64(minutes * 60.0);
    let done = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    let after_50 = Mutex::new(None);
    // Taken by the first thread to stop, while the others still hold their buffers.
    let at_end = Mutex::new(None);
    std::thread::scope(|scope| {
        for t in 0..4u32 {
            let (stylizer, done, failed, after_50, at_end) =
                (&stylizer, &done, &failed, &after_50, &at_end);
            scope.spawn(move || {
                let mut i = t;
                while Instant::now() < deadline {
                    let (w, h) = size_of(i);
                    let img = DynamicImage::ImageRgb8(photo(w, h, i));
                    if stylizer.stylize(&img).is_err() {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                    let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                    if n == 50 {
                        *after_50.lock().expect("not poisoned") = Some(rss());
                    }
                    if n % 200 == 0 {
                        println!("  {n} images: RSS {:.0} MB", rss() as f64 / 1e6);
                    }
                    i += 4;
                }
                at_end.lock().expect("not poisoned").get_or_insert_with(rss);
            });
        }
    });
    let first = after_50.into_inner().expect("not poisoned");
    let end = at_end
        .into_inner()
        .expect("not poisoned")
        .unwrap_or_else(rss);
    let images = done.into_inner();
    let failed = failed.into_inner();
    let Some(first) = first else {
        println!("only {images} images in {minutes} minutes: too few to compare");
        return Ok(false);
    };
    let growth = end as f64 / first as f64 - 1.0;
    println!(
        "4 threads, {images} images in {minutes} min, {failed} failed: RSS {:.0} MB after 50, {:.0} MB at the end ({:+.1}%)",
        first as f64 / 1e6,
        end as f64 / 1e6,
        growth * 100.0
    );
    Ok(failed == 0 && growth <= 0.10)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["photos", dir, n] => n
            .parse()
            .map_err(|_| fauve::Error::Invalid(format!("not a count: {n}")))
            .and_then(|n| photos(Path::new(dir), n).map(|()| true)),
        ["threads", model, minutes] => minutes
            .parse()
            .map_err(|_| fauve::Error::Invalid(format!("not minutes: {minutes}")))
            .and_then(|m| threads(Path::new(model), m)),
        _ => {
            eprintln!("usage: soak photos DIR N | soak threads MODEL MINUTES");
            std::process::exit(2);
        }
    };
    match outcome {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
