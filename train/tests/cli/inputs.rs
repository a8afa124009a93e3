//! A run remembers its painting and VGG file by SHA-256: resuming after either was replaced
//! at the same path is refused (the steps so far trained toward another objective), and so is
//! scoring the model under its own objective with a replaced file; a flag that names another
//! file scores under that one.

use fauve::image::{Rgb, RgbImage};
use fauve_tests::fixture;

use super::{resume_args, setup, text, train, FAUVE_TRAIN};

#[test]
fn replaced_paintings_and_vgg_files_are_caught_on_resume_and_eval() -> anyhow::Result<()> {
    let s = setup(3);
    let run = s.run_dir("run");
    let o = train(&s.args(&run, 4), &[]);
    assert!(o.status.success(), "{}", text(&o));
    let model = run.join("model.safetensors");
    let original = std::fs::read(&s.style)?;

    // Another picture under the painting's name.
    RgbImage::from_fn(48, 40, |x, _| Rgb([(x * 5) as u8, 90, 10])).save(&s.style)?;
    let o = train(&resume_args(&run, 8), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("is not the style image") && text(&o).contains("step-00000004"),
        "{}",
        text(&o)
    );
    let eval = |extra: &[&str]| {
        std::process::Command::new(FAUVE_TRAIN)
            .args(["eval", "--model"])
            .arg(&model)
            .arg("--photos")
            .arg(&s.photos)
            .args(extra)
            .output()
            .unwrap()
    };
    let o = eval(&[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("is not the style image"), "{}", text(&o));
    // Naming the painting on purpose scores under it.
    let o = eval(&["--style-image", s.style.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));

    // The painting back, another VGG file at the VGG's path: caught too.
    std::fs::write(&s.style, &original)?;
    let vgg = s.dir.path().join("vgg.safetensors");
    std::fs::copy(fixture("vgg16_tiny.safetensors"), &vgg)?;
    let run2 = s.run_dir("run2");
    let mut args = s.args(&run2, 4);
    let i = args.iter().position(|a| a == "--vgg").unwrap();
    args[i + 1] = vgg.display().to_string();
    let o = train(&args, &[]);
    assert!(o.status.success(), "{}", text(&o));
    let mut bytes = std::fs::read(&vgg)?;
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&vgg, bytes)?;
    let o = train(&resume_args(&run2, 8), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("is not the VGG file"), "{}", text(&o));
    // Unchanged files resume as before.
    std::fs::copy(fixture("vgg16_tiny.safetensors"), &vgg)?;
    let o = train(&resume_args(&run2, 8), &[]);
    assert!(o.status.success(), "{}", text(&o));
    Ok(())
}
