//! Tiling, shown: one forward pass over the whole photo, tiles with the whole image's norm
//! statistics (what Fauve does), and tiles each normalised over itself (what a naive tiler
//! does), side by side in one picture, with the mean difference of each from the one pass.
//!
//! cargo run --release --example tiles -- MODEL.safetensors PHOTO OUT.jpg [TILE]

use std::path::Path;

use fauve::image::{imageops, DynamicImage, RgbImage};
use fauve::{Stylizer, Tiling};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (model, photo, out, tile) = match args.as_slice() {
        [m, p, o] => (m, p, o, 256),
        [m, p, o, t] => match t.parse() {
            Ok(t) => (m, p, o, t),
            Err(_) => usage(),
        },
        _ => usage(),
    };
    if let Err(e) = run(model, photo, out, tile) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn usage() -> ! {
    eprintln!("usage: tiles MODEL.safetensors PHOTO OUT.(png|jpg) [TILE]");
    std::process::exit(2);
}

fn mean_diff(a: &RgbImage, b: &RgbImage) -> f64 {
    let sum: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    sum as f64 / a.as_raw().len() as f64
}

fn run(model: &str, photo: &str, out: &str, tile: u32) -> fauve::Result<()> {
    let device = fauve::parse_device("auto")?;
    let stylizer = Stylizer::load(model, &device)?;
    let img = fauve::load_image(Path::new(photo))?;
    let whole = stylizer.stylize(&img)?;
    let tiling = Tiling::new(tile, fauve::DEFAULT_OVERLAP)?;
    let ours = stylizer.stylize_tiled(&img, tiling, &mut |_, _| {})?;
    let naive_tiling = tiling.per_tile_stats();
    let naive = stylizer.stylize_tiled(&img, naive_tiling, &mut |_, _| {})?;
    let (w, h) = whole.dimensions();
    let gap = 8;
    let mut sheet = RgbImage::from_pixel(3 * w + 2 * gap, h, fauve::image::Rgb([255, 255, 255]));
    for (i, panel) in [&whole, &ours, &naive].into_iter().enumerate() {
        imageops::replace(&mut sheet, panel, i64::from(i as u32 * (w + gap)), 0);
    }
    fauve::save_image(&DynamicImage::ImageRgb8(sheet).to_rgb8(), Path::new(out))?;
    println!(
        "{out}: one pass | tiles of {} px with whole-image statistics (mean difference {:.3} levels) | tiles normalised alone ({:.3} levels)",
        tiling.tile(),
        mean_diff(&ours, &whole),
        mean_diff(&naive, &whole)
    );
    Ok(())
}
