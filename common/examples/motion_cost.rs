//! What the video path's motion search costs beside the forward pass it serves, per frame size:
//! `cargo run --release -p fauve --example motion_cost -- MODEL`. Prints, for each size, the
//! median time of one `motion::estimate_shift` and of one `Stylizer::stylize`, and their ratio
//! (ratios, not absolute times: the machines are noisy).

use std::time::Instant;

use fauve::image::{DynamicImage, Rgb, RgbImage};
use fauve::{motion, Stylizer};

/// A textured frame and the same scene panned by (5, -3) pixels.
fn frames(w: u32, h: u32) -> (RgbImage, RgbImage) {
    let scene = |x: u32, y: u32| {
        let v = (x * 7 + y * 13 + (x * y) % 29 + (x / 9 + y / 5) % 4 * 40) % 256;
        Rgb([v as u8, (v / 2) as u8, 255 - v as u8])
    };
    let a = RgbImage::from_fn(w, h, |x, y| scene(x + 8, y + 8));
    let b = RgbImage::from_fn(w, h, |x, y| scene(x + 13, y + 5));
    (a, b)
}

fn median_ms(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[runs / 2]
}

fn main() -> fauve::Result<()> {
    let model = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "styles/starry_night.safetensors".into());
    let stylizer = Stylizer::load(&model, &fauve::parse_device("cpu")?)?;
    println!("size       motion search   forward pass   ratio");
    for (w, h) in [(384, 288), (640, 480), (1280, 720), (1920, 1080)] {
        let (a, b) = frames(w, h);
        let (la, lb) = (motion::luma(&a), motion::luma(&b));
        let mut found = (0, 0);
        let search = median_ms(3, || found = motion::estimate_shift(&la, &lb).0);
        assert_eq!(found, (5, -3), "the pan is found");
        let img = DynamicImage::ImageRgb8(b.clone());
        let forward = median_ms(3, || {
            stylizer.stylize(&img).expect("stylizes");
        });
        println!(
            "{w}x{h:<6} {search:>10.1} ms {forward:>11.1} ms   {:.3}",
            search / forward
        );
    }
    Ok(())
}
