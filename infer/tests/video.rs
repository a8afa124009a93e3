//! `fauve-infer --video` end to end: a folder of frames in, a folder (or, with ffmpeg, a video
//! file) out; and the messages when it cannot be done.

use std::path::{Path, PathBuf};
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

/// Stylizes the frames folder `clip` into `out` with `--video`, and checks that each
/// written frame (named by `name(i)`, in time order) is what the library's sequence stylizer
/// makes of `frames` in that order.
fn assert_video_matches_sequence(
    model: &Path,
    clip: &Path,
    out: &Path,
    frames: &[fauve::image::RgbImage],
    name: impl Fn(usize) -> String,
) -> anyhow::Result<Output> {
    let o = infer(
        model,
        &[
            "--video".as_ref(),
            clip.as_os_str(),
            "-o".as_ref(),
            out.as_os_str(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let stylizer = fauve::Stylizer::load(model, &fauve::candle_core::Device::Cpu)?;
    let mut seq = stylizer.sequence(
        fauve::StyleOptions::default(),
        fauve::VideoOptions::default(),
    )?;
    for (i, frame) in frames.iter().enumerate() {
        let written = fauve::load_image(&out.join(name(i)))?.to_rgb8();
        assert_eq!(written.dimensions(), frame.dimensions());
        let want = seq.stylize(&fauve::image::DynamicImage::ImageRgb8(frame.clone()))?;
        assert_eq!(written, want, "frame {i}");
    }
    Ok(o)
}

/// The frames come back under their own names and at their own odd size, the same as the
/// library's sequence stylizer makes them.
#[test]
fn a_folder_of_frames_becomes_a_folder_of_stylized_frames() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let model = write_generated_model(dir.path());
    let frames = write_frames(&dir.path().join("clip"));
    let out = dir.path().join("styled");
    let o = assert_video_matches_sequence(&model, &dir.path().join("clip"), &out, &frames, |i| {
        format!("frame{i:03}.png")
    })?;
    assert!(text(&o).contains("6 frames"), "{}", text(&o));
    assert!(text(&o).contains("frames/s"), "{}", text(&o));
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

/// A temporary folder with a generated model and a frames folder `clip` (`write_frames`).
fn model_and_clip() -> anyhow::Result<(tempfile::TempDir, PathBuf, PathBuf)> {
    let dir = tempfile::tempdir()?;
    let model = write_generated_model(dir.path());
    let clip = dir.path().join("clip");
    write_frames(&clip);
    Ok((dir, model, clip))
}

/// Why the tests that run ffmpeg are ignored by default; `.ci/run` installs ffmpeg and runs
/// them (`scripts/test.sh --tools`).
const NEEDS_FFMPEG: &str = "needs ffmpeg (apt install ffmpeg): run by `scripts/test.sh --tools`";

/// Fails the test, saying what to install, when ffmpeg is not on the PATH.
fn require_ffmpeg() {
    let found = Command::new("ffmpeg")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(found, "{NEEDS_FFMPEG}");
}

/// Makes a test video at `out` with ffmpeg from the lavfi `source` (e.g.
/// `testsrc=size=64x48:rate=10:duration=0.6`), `extra` arguments going before the output.
fn make_video(source: &str, extra: &[&str], out: &Path) {
    let made = Command::new("ffmpeg")
        .args(["-v", "error", "-f", "lavfi", "-i", source])
        .args(extra)
        .arg(out)
        .output()
        .expect("ffmpeg runs");
    assert!(made.status.success(), "{}", text(&made));
}

/// Without ffmpeg on the PATH (an empty PATH here, wherever ffmpeg is installed), a video file
/// is refused with the install hint.
#[test]
fn a_video_file_without_ffmpeg_says_how_to_get_it() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let model = write_generated_model(dir.path());
    let movie = dir.path().join("clip.mp4");
    std::fs::write(&movie, b"not really a video")?;
    let o = Command::new(FAUVE_INFER)
        .env("PATH", dir.path().join("no-such-folder"))
        .args(["--device", "cpu", "--model"])
        .arg(&model)
        .arg("--video")
        .arg(&movie)
        .output()?;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("apt install ffmpeg"), "{}", text(&o));
    Ok(())
}

/// Frames to an .mp4 and that .mp4 back to frames (as many, at their size).
#[test]
#[ignore = "needs ffmpeg (apt install ffmpeg): run by `scripts/test.sh --tools`"]
fn video_files_go_through_ffmpeg() -> anyhow::Result<()> {
    require_ffmpeg();
    let dir = tempfile::tempdir()?;
    let model = write_generated_model(dir.path());
    write_frames(&dir.path().join("clip"));
    let movie = dir.path().join("clip.mp4");
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

/// Frames numbered without zero padding go in number order (frame2 before frame10), not in
/// text order.
#[test]
fn frames_are_taken_in_number_order() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let model = write_generated_model(dir.path());
    let clip = dir.path().join("clip");
    std::fs::create_dir_all(&clip)?;
    let frames = panning_frames(&textured_photo(90, 40), 40, 11, 2, 3.0);
    for (i, f) in frames.iter().enumerate() {
        f.save(clip.join(format!("frame{i}.png")))?;
    }
    let out = dir.path().join("styled");
    assert_video_matches_sequence(&model, &clip, &out, &frames, |i| format!("frame{i}.png"))?;
    Ok(())
}

/// A frames folder cannot be stylized into itself; the input stays as it was.
#[test]
fn a_frames_folder_is_never_written_over_itself() -> anyhow::Result<()> {
    let (_dir, model, clip) = model_and_clip()?;
    let first = std::fs::read(clip.join("frame000.png"))?;
    let o = infer(
        &model,
        &[
            "--video".as_ref(),
            clip.as_os_str(),
            "-o".as_ref(),
            clip.as_os_str(),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("would overwrite an input frame"),
        "{}",
        text(&o)
    );
    assert_eq!(std::fs::read(clip.join("frame000.png"))?, first);
    Ok(())
}

/// A video file cannot be stylized into itself, however the output is spelled (as given,
/// `./`, a hard link); the input stays as it was.
#[test]
#[ignore = "needs ffmpeg (apt install ffmpeg): run by `scripts/test.sh --tools`"]
fn a_video_file_is_never_written_over_itself() -> anyhow::Result<()> {
    require_ffmpeg();
    let (dir, model, clip) = model_and_clip()?;
    let movie = dir.path().join("clip.mp4");
    let o = infer(
        &model,
        &[
            "--video".as_ref(),
            clip.as_os_str(),
            "-o".as_ref(),
            movie.as_os_str(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let before = std::fs::read(&movie)?;
    let hard = dir.path().join("hard.mp4");
    std::fs::hard_link(&movie, &hard)?;
    let relative = Command::new(FAUVE_INFER)
        .current_dir(dir.path())
        .args(["--device", "cpu", "--model"])
        .arg(&model)
        .args(["--video", "clip.mp4", "-o", "./clip.mp4"])
        .output()?;
    for o in [
        infer(
            &model,
            &[
                "--video".as_ref(),
                movie.as_os_str(),
                "-o".as_ref(),
                movie.as_os_str(),
            ],
        ),
        infer(
            &model,
            &[
                "--video".as_ref(),
                movie.as_os_str(),
                "-o".as_ref(),
                hard.as_os_str(),
            ],
        ),
        relative,
    ] {
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(text(&o).contains("is the input video"), "{}", text(&o));
    }
    assert_eq!(std::fs::read(&movie)?, before);
    Ok(())
}

/// Audio that the output's container cannot take as is (uncompressed PCM, as cameras record
/// into .mov, cannot go into .mp4) is re-encoded, and the video keeps every frame.
#[test]
#[ignore = "needs ffmpeg (apt install ffmpeg): run by `scripts/test.sh --tools`"]
fn audio_the_container_cannot_copy_is_reencoded() -> anyhow::Result<()> {
    require_ffmpeg();
    let (dir, model, clip) = model_and_clip()?;
    let source = dir.path().join("clip.mkv");
    let made = Command::new("ffmpeg")
        .args(["-v", "error", "-framerate", "10", "-i"])
        .arg(clip.join("frame%03d.png"))
        .args(["-f", "lavfi", "-i", "sine=frequency=440:duration=0.6"])
        .args(["-c:v", "ffv1", "-c:a", "pcm_s16le", "-shortest"])
        .arg(&source)
        .output()?;
    assert!(made.status.success(), "{}", text(&made));
    let out = dir.path().join("styled.mp4");
    let o = infer(
        &model,
        &[
            "--video".as_ref(),
            source.as_os_str(),
            "-o".as_ref(),
            out.as_os_str(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("6 frames"), "{}", text(&o));
    let probe = |stream: &str, entry: &str| -> anyhow::Result<String> {
        let o = Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", stream, "-show_entries"])
            .arg(format!("stream={entry}"))
            .args(["-of", "csv=p=0"])
            .arg(&out)
            .output()?;
        Ok(String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    assert_eq!(probe("a:0", "codec_name")?, "aac");
    assert_eq!(probe("v:0", "width,height")?, "59,45");
    // No temporary file is left beside the output.
    let names: Vec<_> = std::fs::read_dir(dir.path())?
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(names.is_empty(), "{names:?}");
    Ok(())
}

/// Audio that the output cannot hold at all (a GIF has no sound): the stylized video is still
/// written, without it, and the exit code and message say the audio was lost.
#[test]
#[ignore = "needs ffmpeg (apt install ffmpeg): run by `scripts/test.sh --tools`"]
fn a_video_whose_audio_cannot_be_kept_is_written_silent() -> anyhow::Result<()> {
    require_ffmpeg();
    let dir = tempfile::tempdir()?;
    let model = write_generated_model(dir.path());
    let source = dir.path().join("clip.mkv");
    make_video(
        "testsrc=size=64x48:rate=10:duration=0.6",
        &[
            "-f",
            "lavfi",
            "-i",
            "sine=duration=0.6",
            "-c:v",
            "ffv1",
            "-c:a",
            "pcm_s16le",
        ],
        &source,
    );
    let out = dir.path().join("styled.gif");
    let o = infer(
        &model,
        &[
            "--video".as_ref(),
            source.as_os_str(),
            "-o".as_ref(),
            out.as_os_str(),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("wrote the video without audio"),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("6 frames"), "{}", text(&o));
    assert!(
        fauve::load_image(&out)?.width() == 64,
        "the GIF is there and readable"
    );
    Ok(())
}

/// Ctrl-C while a video file is being encoded: exit 130 and no temporary file left beside the
/// output (issue 37, finding 8).
#[test]
#[ignore = "needs ffmpeg (apt install ffmpeg): run by `scripts/test.sh --tools`"]
fn ctrl_c_during_a_video_leaves_no_temporary_file() -> anyhow::Result<()> {
    require_ffmpeg();
    let dir = tempfile::tempdir()?;
    let model = write_generated_model(dir.path());
    let clip = dir.path().join("clip");
    std::fs::create_dir_all(&clip)?;
    let frames = panning_frames(&textured_photo(400, 300), 320, 40, 2, 1.0);
    for i in 0..200 {
        frames[i % frames.len()].save(clip.join(format!("frame{i:03}.png")))?;
    }
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out)?;
    let mut child = Command::new(FAUVE_INFER)
        .args(["--device", "cpu", "--model"])
        .arg(&model)
        .arg("--video")
        .arg(&clip)
        .arg("-o")
        .arg(out.join("clip.mp4"))
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let partial = |out: &Path| {
        std::fs::read_dir(out).unwrap().any(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .contains(".partial.")
        })
    };
    let start = std::time::Instant::now();
    while !partial(&out) {
        assert!(start.elapsed().as_secs() < 60, "the encoding never started");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()?;
    let status = child.wait()?;
    assert_eq!(status.code(), Some(130));
    let left: Vec<_> = std::fs::read_dir(&out)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()?;
    assert!(left.is_empty(), "{left:?}");
    Ok(())
}

/// `--max-memory` holds for video (issue 37, finding 8): a frame whose one pass would exceed
/// it is refused with what to do (video frames are never tiled), and `--stroke-scale` makes it
/// fit by shrinking what the network sees.
#[test]
fn a_video_frame_over_the_memory_budget_is_refused() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let model = write_generated_model(dir.path());
    let clip = dir.path().join("clip");
    std::fs::create_dir_all(&clip)?;
    for i in 0..2 {
        textured_photo(400, 300).save(clip.join(format!("frame{i}.png")))?;
    }
    let out = dir.path().join("out");
    let run = |extra: &[&str]| {
        Command::new(FAUVE_INFER)
            .args(["--device", "cpu", "--model"])
            .arg(&model)
            .arg("--video")
            .arg(&clip)
            .arg("-o")
            .arg(&out)
            .args(["--max-memory", "16M"])
            .args(extra)
            .output()
    };
    let o = run(&[])?;
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("a frame of 400x300 would take more than the memory budget (16 MB)"),
        "{t}"
    );
    assert!(t.contains("hint: --stroke-scale"), "{t}");
    let o = run(&["--stroke-scale", "2"])?;
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(std::fs::read_dir(&out)?.count(), 2);
    Ok(())
}

/// A video file's frames are judged from the header ffmpeg writes before each frame's pixels:
/// a 4000x3000 video under a 64 MB budget is refused at its first frame.
#[test]
#[ignore = "needs ffmpeg (apt install ffmpeg): run by `scripts/test.sh --tools`"]
fn a_video_files_frames_are_refused_from_their_header() -> anyhow::Result<()> {
    require_ffmpeg();
    let dir = tempfile::tempdir()?;
    let model = write_generated_model(dir.path());
    let big = dir.path().join("big.mkv");
    make_video(
        "color=c=gray:size=4000x3000:rate=5:duration=0.4",
        &["-c:v", "ffv1"],
        &big,
    );
    let out = dir.path().join("out");
    let o = Command::new(FAUVE_INFER)
        .args(["--device", "cpu", "--model"])
        .arg(&model)
        .arg("--video")
        .arg(&big)
        .arg("-o")
        .arg(&out)
        .args(["--max-memory", "64M"])
        .output()?;
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("a frame of 4000x3000 would take more than the memory budget"),
        "{t}"
    );
    Ok(())
}
