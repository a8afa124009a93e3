//! `fauve-infer --video` end to end: a folder of frames in, a folder (or, with ffmpeg, a video
//! file) out; and the messages when it cannot be done.

use std::path::Path;
use std::process::{Command, Output};

use fauve_tests::{panning_frames, text, textured_photo, write_generated_model};

const FAUVE_INFER: &str = env!("CARGO_BIN_EXE_fauve-infer");

fn infer(model: &Path, args: &[&std::ffi::OsStr]) -> Output {
    Command::new(FAUVE_INFER)
        .args(["--device", "cpu", "--model"])
        .arg(model)
        .args(args)
        .output()
        .expect("fauve-infer runs")
}

/// Six odd-sized frames of a pan, named so that name order is time order.
fn write_frames(dir: &Path) -> Vec<fauve::image::RgbImage> {
    std::fs::create_dir_all(dir).unwrap();
    let frames = panning_frames(&textured_photo(70, 45), 59, 6, 2, 3.0);
    for (i, f) in frames.iter().enumerate() {
        f.save(dir.join(format!("frame{i:03}.png"))).unwrap();
    }
    frames
}

/// The frames come back under their own names and at their own odd size, the same as the
/// library's sequence stylizer makes them.
#[test]
fn a_folder_of_frames_becomes_a_folder_of_stylized_frames() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let model = write_generated_model(dir.path());
    let frames = write_frames(&dir.path().join("clip"));
    let out = dir.path().join("styled");
    let o = infer(
        &model,
        &[
            "--video".as_ref(),
            dir.path().join("clip").as_os_str(),
            "-o".as_ref(),
            out.as_os_str(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("6 frames"), "{}", text(&o));
    assert!(text(&o).contains("frames/s"), "{}", text(&o));
    let stylizer = fauve::Stylizer::load(&model, &fauve::candle_core::Device::Cpu)?;
    let mut seq = stylizer.sequence(
        fauve::StyleOptions::default(),
        fauve::VideoOptions::default(),
    )?;
    for (i, frame) in frames.iter().enumerate() {
        let written = fauve::load_image(&out.join(format!("frame{i:03}.png")))?.to_rgb8();
        assert_eq!(written.dimensions(), (59, 45));
        let want = seq.stylize(&fauve::image::DynamicImage::ImageRgb8(frame.clone()))?;
        assert_eq!(written, want, "frame {i}");
    }
    // Default output: beside the folder, named after the style.
    let o = infer(
        &model,
        &["--video".as_ref(), dir.path().join("clip").as_os_str()],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(dir.path().join("clip-starry_night/frame005.png").exists());
    Ok(())
}

#[test]
fn video_usage_errors_are_explained() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let model = write_generated_model(dir.path());
    write_frames(&dir.path().join("a"));
    write_frames(&dir.path().join("b"));
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let o = infer(&model, &["--video".as_ref(), a.as_os_str(), b.as_os_str()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--video takes one input"), "{}", text(&o));
    let o = infer(
        &model,
        &[
            "--video".as_ref(),
            a.as_os_str(),
            "--tile".as_ref(),
            "64".as_ref(),
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = infer(
        &model,
        &[
            "--video-blend".as_ref(),
            "1".as_ref(),
            "--video".as_ref(),
            a.as_os_str(),
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("below 1"), "{}", text(&o));
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "not a video")?;
    let o = infer(&model, &["--video".as_ref(), notes.as_os_str()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("a folder of frames or a video file"),
        "{}",
        text(&o)
    );
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty)?;
    let o = infer(&model, &["--video".as_ref(), empty.as_os_str()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("no image frames"), "{}", text(&o));
    Ok(())
}

fn have_ffmpeg() -> bool {
    Command::new("ffmpeg")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// With ffmpeg: frames to an .mp4 and that .mp4 back to frames (as many, at their size).
/// Without it: a video file is refused with the install hint, and frames folders still work.
#[test]
fn video_files_go_through_ffmpeg_or_say_how_to_get_it() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let model = write_generated_model(dir.path());
    write_frames(&dir.path().join("clip"));
    let movie = dir.path().join("clip.mp4");
    if !have_ffmpeg() {
        std::fs::write(&movie, b"not really a video")?;
        let o = infer(&model, &["--video".as_ref(), movie.as_os_str()]);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(text(&o).contains("apt install ffmpeg"), "{}", text(&o));
        return Ok(());
    }
    let clip = dir.path().join("clip");
    let o = infer(
        &model,
        &[
            "--video".as_ref(),
            clip.as_os_str(),
            "-o".as_ref(),
            movie.as_os_str(),
            "--fps".as_ref(),
            "10".as_ref(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(movie.metadata()?.len() > 0);
    let back = dir.path().join("back");
    let o = infer(
        &model,
        &[
            "--video".as_ref(),
            movie.as_os_str(),
            "-o".as_ref(),
            back.as_os_str(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let mut names: Vec<_> = std::fs::read_dir(&back)?
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    assert_eq!(names.len(), 6, "{names:?}");
    assert_eq!(fauve::load_image(&names[0])?.width(), 59);
    Ok(())
}
