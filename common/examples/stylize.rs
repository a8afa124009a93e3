//! Stylize one image with a Fauve model: the whole API another program needs.
//!
//! cargo run --release --example stylize -- MODEL.safetensors INPUT.jpg OUTPUT.png

use std::path::Path;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model, input, output] = args.as_slice() else {
        eprintln!("usage: stylize MODEL.safetensors INPUT OUTPUT.(png|jpg)");
        std::process::exit(2);
    };
    if let Err(e) = run(model, input, output) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(model: &str, input: &str, output: &str) -> fauve::Result<()> {
    let device = fauve::parse_device("auto")?;
    let stylizer = fauve::Stylizer::load(model, &device)?;
    let photo = fauve::load_image(Path::new(input))?;
    let styled = stylizer.stylize(&photo)?;
    fauve::save_image(&styled, Path::new(output))?;
    println!(
        "{input} -> {output} ({}x{}, style: {})",
        styled.width(),
        styled.height(),
        stylizer
            .metadata()
            .style_name
            .as_deref()
            .unwrap_or("unnamed")
    );
    Ok(())
}
