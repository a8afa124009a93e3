//! `fauve-infer --video`: one video, as a folder of frames (in the order people number them:
//! frame2 before frame10) or a video file (decoded and encoded by the `ffmpeg` program through
//! pipes), stylized frame after frame with the frames tied together (`fauve::VideoOptions`)
//! so that still parts stay still.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use fauve::{FileId, StyleOptions, Stylizer, VideoOptions};
use image::DynamicImage;

use crate::ffmpeg;
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

/// What was written: frames, and how fast; `warning` says what could not be kept (the audio).
pub struct Done {
    pub frames: usize,
    pub fps: f64,
    pub output: PathBuf,
    pub warning: Option<String>,
}

/// Where frames come from: image files in order, or ffmpeg decoding a video file.
enum Source<'a> {
    Files(std::slice::Iter<'a, PathBuf>),
    Stream(ffmpeg::Decoder),
}

impl Source<'_> {
    /// The next frame, decoded within `budget` bytes, and only if `fits` accepts its size (a
    /// stream's frame is judged from its header, before its pixels are read).
    fn next(
        &mut self,
        budget: u64,
        fits: &dyn Fn(u32, u32) -> Result<()>,
    ) -> Result<Option<DynamicImage>> {
        match self {
            Source::Files(files) => files
                .next()
                .map(|f| {
                    let frame = fauve::load_image_within(f, budget)?;
                    fits(frame.width(), frame.height()).with_context(|| f.display().to_string())?;
                    Ok(frame)
                })
                .transpose(),
            Source::Stream(decoder) => decoder.next_frame(fits),
        }
    }
}

/// What to stylize, into what: the input frames (none for a video file) and the output.
struct Plan {
    frames: Vec<PathBuf>,
    output: PathBuf,
}

/// Stylizes the video at `input` into `output` (default: beside the input, named with
/// `suffix`): a frames folder into a frames folder (or a video file at `fps` when `output` has
/// a video extension), a video file into a video file at its own rate (or into a folder of
/// frames when `output` has no video extension). No input file or frame is ever overwritten.
pub fn stylize_video(
    stylizer: &Stylizer,
    input: &Path,
    output: Option<&Path>,
    suffix: &str,
    fps: Option<f64>,
    options: StyleOptions,
    video: VideoOptions,
) -> Result<Done> {
    let plan = plan(input, output, suffix)?;
    let out = plan.output.as_path();
    // A video file in or out needs ffmpeg: said once, before any work.
    if plan.frames.is_empty() || is_video_file(out) {
        ffmpeg::check_installed()?;
    }
    refuse_overwrite(input, &plan)?;
    let run = Run {
        stylizer,
        options,
        video,
    };
    let names = &plan.frames;
    if !names.is_empty() {
        let (source, total) = (Source::Files(names.iter()), Some(names.len()));
        return if is_video_file(out) {
            run.to_video_file(source, total, None, fps.unwrap_or(DEFAULT_FPS), out)
        } else {
            run.to_folder(source, total, names, out)
        };
    }
    let source = Source::Stream(ffmpeg::Decoder::open(input)?);
    let total = ffmpeg::frame_count(input);
    if is_video_file(out) {
        let rate = fps
            .or_else(|| ffmpeg::frame_rate(input))
            .unwrap_or(DEFAULT_FPS);
        run.to_video_file(source, total, Some(input), rate, out)
    } else {
        run.to_folder(source, total, &[], out)
    }
}

/// The frames (empty for a video file) and the output path.
fn plan(input: &Path, output: Option<&Path>, suffix: &str) -> Result<Plan> {
    let meta = std::fs::metadata(input).with_context(|| input.display().to_string())?;
    let stem = input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "video".into());
    if meta.is_dir() {
        let frames = list_frames(input)?;
        let output = output.map_or_else(
            || input.with_file_name(format!("{stem}-{suffix}")),
            Path::to_path_buf,
        );
        return Ok(Plan { frames, output });
    }
    if !is_video_file(input) {
        bail!(
            "{}: --video takes a folder of frames or a video file ({})",
            input.display(),
            VIDEO_EXTENSIONS.join(", ")
        );
    }
    let output = output.map_or_else(
        || input.with_file_name(format!("{stem}-{suffix}.mp4")),
        Path::to_path_buf,
    );
    Ok(Plan {
        frames: Vec::new(),
        output,
    })
}

/// Refuses an output that is the input video, the input folder's own place for a frame, or
/// any input frame, compared as files (so `./clip.mp4`, links and hard links count).
fn refuse_overwrite(input: &Path, plan: &Plan) -> Result<()> {
    let out = &plan.output;
    if fauve::same_file(input, out) && !input.is_dir() {
        bail!(
            "the output {} is the input video; give another -o",
            out.display()
        );
    }
    let frames: std::collections::HashSet<FileId> =
        plan.frames.iter().filter_map(|f| FileId::of(f)).collect();
    let mut targets = vec![out.clone()];
    if !is_video_file(out) {
        targets.extend(
            plan.frames
                .iter()
                .filter_map(|f| Some(out.join(f.file_name()?))),
        );
    }
    for target in targets {
        if FileId::of(&target).is_some_and(|id| frames.contains(&id)) {
            bail!(
                "the output {} would overwrite an input frame; give another -o",
                target.display()
            );
        }
    }
    Ok(())
}

/// The image files directly in `folder`, in natural order (numbers by value).
fn list_frames(folder: &Path) -> Result<Vec<PathBuf>> {
    let mut frames: Vec<PathBuf> = std::fs::read_dir(folder)
        .with_context(|| format!("cannot read {}", folder.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && fauve::has_image_extension(p))
        .collect();
    alphanumeric_sort::sort_path_slice(&mut frames);
    if frames.is_empty() {
        bail!("{}: no image frames in this folder", folder.display());
    }
    Ok(frames)
}

/// One video's stylizing settings.
struct Run<'a> {
    stylizer: &'a Stylizer,
    options: StyleOptions,
    video: VideoOptions,
}

impl Run<'_> {
    /// Whether a `w` x `h` frame goes through the network in one pass within `budget` bytes
    /// (video frames are never tiled: each is tied to the frame before it whole).
    fn fits_whole(&self, w: u32, h: u32, budget: u64) -> Result<()> {
        if self.stylizer.tiling_for(w, h, &self.options)?.is_some() {
            let mb = budget >> 20;
            bail!(
                "a frame of {w}x{h} would take more than the memory budget ({mb} MB) in one pass, and video frames are not tiled\n\nhint: --stroke-scale 2 (or more) runs the network on frames shrunk by that factor; --max-memory raises the budget"
            );
        }
        Ok(())
    }

    /// Stylizes every frame of `source` in order, handing each result to `sink`, with a
    /// progress bar named after `label`; returns the frame count and rate.
    fn each_frame(
        &self,
        mut source: Source,
        total: Option<usize>,
        label: &Path,
        sink: &mut dyn FnMut(usize, image::RgbImage) -> Result<()>,
    ) -> Result<(usize, f64)> {
        let mut seq = self.stylizer.sequence(self.options.clone(), self.video)?;
        let budget = self
            .options
            .max_memory
            .unwrap_or_else(|| self.stylizer.memory_budget());
        let fits = |w: u32, h: u32| self.fits_whole(w, h, budget);
        let mut bar = Bar::new(label);
        let start = Instant::now();
        let mut done = 0;
        while let Some(frame) = source.next(budget, &fits)? {
            let styled = seq
                .stylize(&frame)
                .with_context(|| format!("frame {}", done + 1))?;
            sink(done, styled)?;
            done += 1;
            bar.update(done, total.unwrap_or(0).max(done + 1));
        }
        bar.finish();
        if done == 0 {
            bail!("{}: the video has no frames", label.display());
        }
        Ok((done, done as f64 / start.elapsed().as_secs_f64()))
    }

    /// Frames into `folder`: under their own names (`names`), or numbered for a video file.
    fn to_folder(
        &self,
        source: Source,
        total: Option<usize>,
        names: &[PathBuf],
        folder: &Path,
    ) -> Result<Done> {
        std::fs::create_dir_all(folder)
            .with_context(|| format!("cannot create folder {}", folder.display()))?;
        let mut sink = |i: usize, frame: image::RgbImage| -> Result<()> {
            let target = match names.get(i).and_then(|n| n.file_name()) {
                Some(name) => folder.join(name),
                None => folder.join(format!("{:06}.png", i + 1)),
            };
            Ok(fauve::save_image(&frame, &target)?)
        };
        let (frames, fps) = self.each_frame(source, total, folder, &mut sink)?;
        Ok(Done {
            frames,
            fps,
            output: folder.to_path_buf(),
            warning: None,
        })
    }

    /// Frames encoded at `rate` into `out` (with the audio of `audio_from`, when it has any),
    /// through a temporary file beside it, renamed into place only when complete. If the audio
    /// cannot be added, the stylized video is still written, without it, and `warning` says so.
    fn to_video_file(
        &self,
        source: Source,
        total: Option<usize>,
        audio_from: Option<&Path>,
        rate: f64,
        out: &Path,
    ) -> Result<Done> {
        let silent = partial_name(out, "video");
        let _removed = crate::interrupt::Removed::on_interrupt(&silent);
        let mut encoder = None;
        let mut sink = |_: usize, frame: image::RgbImage| -> Result<()> {
            if encoder.is_none() {
                encoder = Some(ffmpeg::Encoder::create(&silent, frame.dimensions(), rate)?);
            }
            encoder.as_mut().context("no encoder")?.write(&frame)
        };
        let result = self.each_frame(source, total, out, &mut sink);
        let finished = match (result, encoder) {
            (Ok(counts), Some(enc)) => enc.finish().map(|()| counts),
            (Ok(_), None) => Err(anyhow::anyhow!("{}: no frames to encode", out.display())),
            // Dropping the encoder closes its pipe and waits for ffmpeg.
            (Err(e), _) => Err(e),
        };
        let (frames, fps) = finished.inspect_err(|_| {
            let _ = std::fs::remove_file(&silent);
        })?;
        let warning = match audio_from {
            Some(src) => add_audio(&silent, src, out),
            None => None,
        };
        fauve::persist_partial(&silent, out)
            .with_context(|| format!("cannot write {}", out.display()))?;
        Ok(Done {
            frames,
            fps,
            output: out.to_path_buf(),
            warning,
        })
    }
}

/// A hidden temporary name beside `out`, with its extension (ffmpeg picks the container by it)
/// and this process's id (two runs writing the same output never share one).
fn partial_name(out: &Path, what: &str) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = out.extension().and_then(|e| e.to_str()).unwrap_or("mp4");
    let pid = std::process::id();
    out.with_file_name(format!(".{name}.{pid}.{what}.partial.{ext}"))
}

/// Replaces the silent video at `silent` by one with the audio of `src`; on failure leaves it
/// silent and returns the reason.
fn add_audio(silent: &Path, src: &Path, out: &Path) -> Option<String> {
    let muxed = partial_name(out, "audio");
    let _removed = crate::interrupt::Removed::on_interrupt(&muxed);
    match ffmpeg::mux_audio(silent, src, &muxed) {
        Ok(()) => match std::fs::rename(&muxed, silent) {
            Ok(()) => None,
            Err(e) => Some(format!("cannot write {}: {e}", out.display())),
        },
        Err(e) => Some(format!(
            "{}; wrote the video without audio",
            fauve::report(e.as_ref())
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two processes writing the same video never share a temporary file (issue 37, 8).
    #[test]
    fn the_temporary_name_is_hidden_beside_the_output_and_per_process() {
        let p = partial_name(Path::new("/videos/out.mkv"), "video");
        let pid = std::process::id();
        assert_eq!(
            p,
            Path::new(&format!("/videos/.out.mkv.{pid}.video.partial.mkv"))
        );
    }
}
