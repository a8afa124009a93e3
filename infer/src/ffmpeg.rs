//! The `ffmpeg` program, driven through pipes: frames stream out of a decoder and into an
//! encoder one at a time, so a video never lands on disk as a folder of images (a 10-minute 4K
//! clip would need hundreds of GB of PNGs).

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use anyhow::{bail, Context, Result};
use image::codecs::pnm::PnmDecoder;
use image::{DynamicImage, RgbImage};

/// Fails with the install hint when the `ffmpeg` program cannot be run.
pub fn check_installed() -> Result<()> {
    let found = Command::new("ffmpeg")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        bail!("video files need the ffmpeg program, which is not installed\n\nhint: install it (Debian: `apt install ffmpeg`), or pass a folder of frames instead");
    }
    Ok(())
}

/// The frames of a video file, decoded by ffmpeg and read from its output as PPM images (each
/// carries its own size, so rotated and size-changing streams need no probing).
pub struct Decoder {
    child: Child,
    out: BufReader<ChildStdout>,
    source: String,
}

impl Decoder {
    /// Starts decoding `video`.
    pub fn open(video: &Path) -> Result<Self> {
        let mut child = Command::new("ffmpeg")
            .args(["-v", "error", "-nostdin", "-i"])
            .arg(video)
            .args(["-f", "image2pipe", "-c:v", "ppm", "-"])
            .stdout(Stdio::piped())
            .spawn()
            .context("cannot run ffmpeg")?;
        let out = BufReader::with_capacity(1 << 20, child.stdout.take().context("no pipe")?);
        Ok(Self {
            child,
            out,
            source: video.display().to_string(),
        })
    }

    /// The next frame, or None at the end of the video (an error if ffmpeg failed). `fits`
    /// judges the frame's size from its header, before its pixels are read.
    pub fn next_frame(
        &mut self,
        fits: &dyn Fn(u32, u32) -> Result<()>,
    ) -> Result<Option<DynamicImage>> {
        let at_end = self.out.fill_buf().map(<[u8]>::is_empty).unwrap_or(true);
        if at_end {
            let status = self.child.wait().context("cannot run ffmpeg")?;
            if !status.success() {
                bail!("ffmpeg could not read {} ({status})", self.source);
            }
            return Ok(None);
        }
        let decoder = PnmDecoder::new(&mut self.out)
            .with_context(|| format!("ffmpeg gave an unreadable frame of {}", self.source))?;
        let (w, h) = image::ImageDecoder::dimensions(&decoder);
        fits(w, h).with_context(|| self.source.clone())?;
        let frame = DynamicImage::from_decoder(decoder)
            .with_context(|| format!("ffmpeg gave an unreadable frame of {}", self.source))?;
        Ok(Some(frame))
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        // Stopped early (an error downstream): do not leave ffmpeg decoding into a full pipe.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An encoder writing frames of one size, at a fixed rate, into a video file without audio.
pub struct Encoder {
    child: Child,
    input: Option<ChildStdin>,
    size: (u32, u32),
}

impl Encoder {
    /// Starts encoding `size` frames at `rate` per second into `out` (whose extension picks
    /// the container). 4:2:0 chroma needs even sides; odd ones keep their size in 4:4:4.
    pub fn create(out: &Path, size: (u32, u32), rate: f64) -> Result<Self> {
        let pix_fmt = if size.0 % 2 == 0 && size.1 % 2 == 0 {
            "yuv420p"
        } else {
            "yuv444p"
        };
        let mut child = Command::new("ffmpeg")
            .args(["-v", "error", "-nostdin", "-y", "-f", "rawvideo"])
            .args(["-pix_fmt", "rgb24", "-s", &format!("{}x{}", size.0, size.1)])
            .args(["-framerate", &format!("{rate}"), "-i", "-"])
            .args(["-pix_fmt", pix_fmt])
            .arg(out)
            .stdin(Stdio::piped())
            .spawn()
            .context("cannot run ffmpeg")?;
        let input = child.stdin.take();
        Ok(Self { child, input, size })
    }

    /// Sends one frame, which must have the size the encoder was made for.
    pub fn write(&mut self, frame: &RgbImage) -> Result<()> {
        if frame.dimensions() != self.size {
            let (w, h) = frame.dimensions();
            bail!(
                "a frame is {w}x{h} but the first was {}x{}; a video file needs frames of one size",
                self.size.0,
                self.size.1
            );
        }
        let pipe = self.input.as_mut().context("the encoder is closed")?;
        if pipe.write_all(frame.as_raw()).is_err() {
            // ffmpeg stopped reading: its exit status says why.
            let status = self.child.wait().context("cannot run ffmpeg")?;
            bail!("ffmpeg stopped encoding ({status})");
        }
        Ok(())
    }

    /// Closes the stream and waits for the file to be finished.
    pub fn finish(mut self) -> Result<()> {
        drop(self.input.take());
        let status = self.child.wait().context("cannot run ffmpeg")?;
        if !status.success() {
            bail!("ffmpeg could not encode the video ({status})");
        }
        Ok(())
    }
}

impl Drop for Encoder {
    fn drop(&mut self) {
        drop(self.input.take());
        let _ = self.child.wait();
    }
}

/// Writes `out`: the video stream of `video` with the audio streams of `audio_from` (none if
/// it has none). The audio is copied as is where the container takes it, else re-encoded in
/// the container's default audio codec (Vorbis or Opus into .mp4, say). An error means
/// neither worked; `video` is left as it was.
pub fn mux_audio(video: &Path, audio_from: &Path, out: &Path) -> Result<()> {
    let mut last = String::new();
    for audio_codec in [Some("copy"), None] {
        let mut cmd = Command::new("ffmpeg");
        cmd.args(["-v", "error", "-nostdin", "-y", "-i"])
            .arg(video)
            .arg("-i")
            .arg(audio_from)
            .args(["-map", "0:v", "-map", "1:a?", "-c:v", "copy"]);
        if let Some(codec) = audio_codec {
            cmd.args(["-c:a", codec]);
        }
        let o = cmd
            .arg(out)
            .stdin(Stdio::null())
            .output()
            .context("cannot run ffmpeg")?;
        if o.status.success() {
            return Ok(());
        }
        last = String::from_utf8_lossy(&o.stderr).trim().to_string();
    }
    let _ = std::fs::remove_file(out);
    bail!(
        "ffmpeg could not add the audio of {}: {last}",
        audio_from.display()
    )
}

/// One entry of the first video stream, as ffprobe prints it.
fn probe(video: &Path, entry: &str) -> Option<String> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0"])
        .args([
            "-show_entries",
            &format!("stream={entry}"),
            "-of",
            "csv=p=0",
        ])
        .arg(video)
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The video's frame rate, from ffprobe (`30000/1001` and the like).
pub fn frame_rate(video: &Path) -> Option<f64> {
    let text = probe(video, "r_frame_rate")?;
    let (n, d) = text.split_once('/')?;
    let (n, d): (f64, f64) = (n.parse().ok()?, d.parse().ok()?);
    (n > 0.0 && d > 0.0).then_some(n / d)
}

/// How many frames the container says the video has (for the progress bar; not every
/// container records it).
pub fn frame_count(video: &Path) -> Option<usize> {
    probe(video, "nb_frames")?.parse().ok().filter(|&n| n > 0)
}
