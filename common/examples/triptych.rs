//! Puts images side by side at a common height, with a white gap: the content | style | result
//! pictures of the docs.
//!
//! cargo run --release --example triptych -- OUT.jpg HEIGHT IMAGE...

use std::path::Path;

use fauve::image::{imageops, RgbImage};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        eprintln!("usage: triptych OUT.(png|jpg) HEIGHT IMAGE...");
        std::process::exit(2);
    }
    if let Err(e) = run(&args[0], &args[1], &args[2..]) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(out: &str, height: &str, inputs: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let height: u32 = height.parse()?;
    const GAP: u32 = 8;
    let mut tiles = Vec::new();
    for path in inputs {
        let img = fauve::to_rgb(&fauve::load_image(Path::new(path))?);
        let width = (img.width() as f64 * height as f64 / img.height() as f64).round() as u32;
        tiles.push(imageops::resize(
            &img,
            width.max(1),
            height,
            imageops::FilterType::Lanczos3,
        ));
    }
    let total: u32 = tiles.iter().map(|t| t.width()).sum::<u32>() + GAP * (tiles.len() as u32 - 1);
    let mut canvas = RgbImage::from_pixel(total, height, fauve::image::Rgb([255, 255, 255]));
    let mut x = 0;
    for t in &tiles {
        imageops::replace(&mut canvas, t, x as i64, 0);
        x += t.width() + GAP;
    }
    fauve::save_image(&canvas, Path::new(out))?;
    println!("wrote {out} ({}x{height})", canvas.width());
    Ok(())
}
