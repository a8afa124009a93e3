//! Stylizing into a nearly full file system (a 20 KiB tmpfs, mounted in a private mount
//! namespace by `unshare`, so no root is needed where user namespaces are allowed): the
//! outputs that fit are written, the rest fail with a message saying the disk is full, exit 1,
//! and no partial file is left behind.
#![cfg(target_os = "linux")]

use fauve::image::{Rgb, RgbImage};
use fauve_tests::hostile::on_small_disk;
use fauve_tests::{text, write_generated_model};

const FAUVE_INFER: &str = env!("CARGO_BIN_EXE_fauve-infer");

#[test]
fn a_full_disk_fails_the_images_that_do_not_fit_and_keeps_those_that_do() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let model = write_generated_model(dir.path());
    let photos = dir.path().join("photos");
    std::fs::create_dir(&photos)?;
    // Each 96x96 result is about 5.3 KB, two 4 KiB pages of the tmpfs.
    for i in 0..8u32 {
        RgbImage::from_fn(96, 96, |x, y| {
            let v = (x.wrapping_mul(2654435761) ^ y.wrapping_mul(40503) ^ (i * 97))
                .wrapping_mul(2246822519)
                >> 8;
            Rgb([v as u8, (v >> 8) as u8, (v >> 16) as u8])
        })
        .save(photos.join(format!("p{i}.png")))?;
    }
    let out = dir.path().join("out");
    std::fs::create_dir(&out)?;
    let script = format!(
        "'{infer}' --device cpu --model '{model}' '{photos}' -o '{out}'; code=$?; ls -la '{out}'; exit $code",
        out = out.display(),
        infer = FAUVE_INFER,
        model = model.display(),
        photos = photos.display(),
    );
    let o = on_small_disk(&out, "20k", &script);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("no space left on device"), "{t}");
    let stdout = String::from_utf8_lossy(&o.stdout);
    let written: Vec<&str> = stdout.lines().filter(|l| l.ends_with(".png")).collect();
    let reported = stdout.lines().filter(|l| l.contains(" -> ")).count();
    eprintln!("written: {written:?}\n{t}");
    assert!(!written.is_empty() && written.len() < 8, "{t}");
    assert_eq!(
        written.len(),
        reported,
        "every output reported as written is there: {t}"
    );
    assert!(!stdout.contains("partial"), "a partial file was left: {t}");
    assert!(
        t.contains(&format!("{} failed", 8 - written.len())),
        "the summary counts the failures: {t}"
    );
    Ok(())
}
