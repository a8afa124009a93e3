//! `fauve-infer --video`: one video, as a folder of frames (sorted by name; nothing else
//! needed) or a video file (decoded and re-encoded by the `ffmpeg` program), stylized frame
//! after frame with the frames tied together (`fauve::VideoOptions`) so that still parts
//! stay still.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use fauve::{StyleOptions, Stylizer, VideoOptions};

use crate::progress::Bar;

/// Frame rate of a video made from a folder of frames, unless `--fps` says otherwise.
const DEFAULT_FPS: f64 = 25.0;

/// Extensions taken for video files; anything else that is not a folder is refused.
const VIDEO_EXTENSIONS: [&str; 7] = ["mp4", "mov", "mkv", "avi", "webm", "m4v", "gif"];

fn is_video_file(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| VIDEO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// What was written: frames, and how fast.
pub struct Done {
    pub frames: usize,
    pub fps: f64,
    pub output: PathBuf,
}

/// Stylizes the video at `input` into `output` (default: beside the input, named with
/// `suffix`): a frames folder into a frames folder (or a video file at `fps` when `output` has
/// a video extension), a video file into a video file at its own rate (or into a folder of
/// frames when `output` has no video extension).
pub fn stylize_video(
    stylizer: &Stylizer,
    input: &Path,
    output: Option<&Path>,
    suffix: &str,
    fps: Option<f64>,
    options: StyleOptions,
    video: VideoOptions,
) -> Result<Done> {
    let meta = std::fs::metadata(input).with_context(|| input.display().to_string())?;
    let stem = input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "video".into());
    if meta.is_dir() {
        let frames = list_frames(input)?;
        let out = output.map_or_else(
            || input.with_file_name(format!("{stem}-{suffix}")),
            Path::to_path_buf,
        );
        return if is_video_file(&out) {
            let rate = fps.unwrap_or(DEFAULT_FPS);
            to_video_file(stylizer, &frames, None, rate, &out, options, video)
        } else {
            to_folder(stylizer, &frames, &out, options, video)
        };
    }
    if !is_video_file(input) {
        bail!(
            "{}: --video takes a folder of frames or a video file ({})",
            input.display(),
            VIDEO_EXTENSIONS.join(", ")
        );
    }
    check_ffmpeg()?;
    let out = output.map_or_else(
        || input.with_file_name(format!("{stem}-{suffix}.mp4")),
        Path::to_path_buf,
    );
    let decoded = tempfile::tempdir().context("cannot make a temporary folder for the frames")?;
    decode(input, decoded.path())?;
    let frames = list_frames(decoded.path())?;
    if is_video_file(&out) {
        let rate = fps.or_else(|| frame_rate(input)).unwrap_or(DEFAULT_FPS);
        to_video_file(stylizer, &frames, Some(input), rate, &out, options, video)
    } else {
        to_folder(stylizer, &frames, &out, options, video)
    }
}

/// The image files directly in `folder`, sorted by name.
fn list_frames(folder: &Path) -> Result<Vec<PathBuf>> {
    let mut frames: Vec<PathBuf> = std::fs::read_dir(folder)
        .with_context(|| format!("cannot read {}", folder.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && fauve::has_image_extension(p))
        .collect();
    frames.sort();
    if frames.is_empty() {
        bail!("{}: no image frames in this folder", folder.display());
    }
    Ok(frames)
}

/// Stylizes `frames` in order, tied together, writing frame `i` to `targets[i]`, with a
/// progress bar named after `label`; returns the frame rate and the last frame's size.
fn stylize_frames(
    stylizer: &Stylizer,
    frames: &[PathBuf],
    targets: &[PathBuf],
    label: &Path,
    options: StyleOptions,
    video: VideoOptions,
) -> Result<(f64, (u32, u32))> {
    let mut seq = stylizer.sequence(options, video)?;
    let mut bar = Bar::new(label);
    let start = Instant::now();
    let mut size = (0, 0);
    for (i, (frame, target)) in frames.iter().zip(targets).enumerate() {
        let img = fauve::load_image(frame)?;
        let styled = seq
            .stylize(&img)
            .with_context(|| frame.display().to_string())?;
        size = styled.dimensions();
        fauve::save_image(&styled, target)?;
        bar.update(i + 1, frames.len());
    }
    bar.finish();
    Ok((frames.len() as f64 / start.elapsed().as_secs_f64(), size))
}

/// Stylizes `frames` in order into `folder`, each under its own file name.
fn to_folder(
    stylizer: &Stylizer,
    frames: &[PathBuf],
    folder: &Path,
    options: StyleOptions,
    video: VideoOptions,
) -> Result<Done> {
    std::fs::create_dir_all(folder)
        .with_context(|| format!("cannot create folder {}", folder.display()))?;
    let targets = frames
        .iter()
        .map(|frame| {
            let name = frame.file_name().context("a frame has no file name")?;
            let target = folder.join(name);
            if target.canonicalize().ok() == frame.canonicalize().ok() {
                bail!("{}: the output would overwrite this frame", frame.display());
            }
            Ok(target)
        })
        .collect::<Result<Vec<_>>>()?;
    let (fps, _) = stylize_frames(stylizer, frames, &targets, folder, options, video)?;
    Ok(Done {
        frames: frames.len(),
        fps,
        output: folder.to_path_buf(),
    })
}

/// Stylizes `frames` into a temporary folder, then has ffmpeg encode them at `rate` frames
/// per second into `out` (with the audio of `audio_from`, if it has any), atomically.
fn to_video_file(
    stylizer: &Stylizer,
    frames: &[PathBuf],
    audio_from: Option<&Path>,
    rate: f64,
    out: &Path,
    options: StyleOptions,
    video: VideoOptions,
) -> Result<Done> {
    check_ffmpeg()?;
    let styled = tempfile::tempdir().context("cannot make a temporary folder for the frames")?;
    // Numbered PNGs, the pattern ffmpeg reads.
    let numbered: Vec<PathBuf> = (1..=frames.len())
        .map(|i| styled.path().join(format!("{i:06}.png")))
        .collect();
    let (fps, size) = stylize_frames(stylizer, frames, &numbered, out, options, video)?;
    let partial = out.with_file_name(format!(
        ".{}.partial.{}",
        out.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        out.extension().and_then(|e| e.to_str()).unwrap_or("mp4")
    ));
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-v", "error", "-y", "-framerate"])
        .arg(format!("{rate}"))
        .arg("-i")
        .arg(styled.path().join("%06d.png"));
    if let Some(src) = audio_from {
        cmd.arg("-i")
            .arg(src)
            .args(["-map", "0:v", "-map", "1:a?", "-c:a", "copy"]);
    }
    // 4:2:0 chroma needs even sides; odd ones keep their size in 4:4:4.
    let pix_fmt = if size.0 % 2 == 0 && size.1 % 2 == 0 {
        "yuv420p"
    } else {
        "yuv444p"
    };
    cmd.args(["-pix_fmt", pix_fmt]).arg(&partial);
    let status = cmd.status().context("cannot run ffmpeg")?;
    if !status.success() {
        let _ = std::fs::remove_file(&partial);
        bail!("ffmpeg could not encode {} ({status})", out.display());
    }
    std::fs::rename(&partial, out).with_context(|| format!("cannot write {}", out.display()))?;
    Ok(Done {
        frames: frames.len(),
        fps,
        output: out.to_path_buf(),
    })
}

fn check_ffmpeg() -> Result<()> {
    let found = Command::new("ffmpeg")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        bail!("video files need the ffmpeg program, which is not installed\n\nhint: install it (Debian: `apt install ffmpeg`), or pass a folder of frames instead");
    }
    Ok(())
}

/// Decodes every frame of `video` into `folder` as numbered PNGs.
fn decode(video: &Path, folder: &Path) -> Result<()> {
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(video)
        .arg(folder.join("%06d.png"))
        .status()
        .context("cannot run ffmpeg")?;
    if !status.success() {
        bail!("ffmpeg could not read {} ({status})", video.display());
    }
    Ok(())
}

/// The video's frame rate, from ffprobe (`30000/1001` and the like).
fn frame_rate(video: &Path) -> Option<f64> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=r_frame_rate",
        ])
        .args(["-of", "csv=p=0"])
        .arg(video)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let (n, d) = text.trim().split_once('/')?;
    let (n, d): (f64, f64) = (n.parse().ok()?, d.parse().ok()?);
    (n > 0.0 && d > 0.0).then_some(n / d)
}
