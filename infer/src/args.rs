//! `fauve-infer`'s command line (clap), with the parsers that check each value.

use std::path::PathBuf;

use clap::Parser;
use fauve::MIN_SIDE;

/// Stylize images with a trained Fauve style model.
///
/// Each input file (or each image in an input folder, searched recursively) is stylized in one
/// forward pass and written as <name>-<style>.<ext>, next to the input or into the -o folder,
/// which then mirrors the input folders' sub-folders. A missing or unreadable input is reported
/// and skipped; the others are still written.
///
/// Exit codes: 0 all written, 1 some input failed (or the model could not be loaded), 2 a
/// usage error.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
pub(crate) struct Args {
    /// Model file (.safetensors) written by fauve-train or scripts/convert-pytorch-checkpoint.py.
    #[arg(short, long, value_name = "FILE")]
    pub(crate) model: PathBuf,

    /// Images or folders of images to stylize.
    #[arg(required_unless_present = "list_styles", value_name = "INPUT")]
    pub(crate) inputs: Vec<PathBuf>,

    /// Which style of a multi-style model: its name or index (see --list-styles). A
    /// multi-style model needs --style or --mix.
    #[arg(long, value_name = "NAME|INDEX", conflicts_with = "mix")]
    pub(crate) style: Option<String>,

    /// A mix of a multi-style model's styles, NAME=WEIGHT,... (e.g.
    /// "starry_night=0.7,autumn=0.3"): their norm parameters are mixed with the weights,
    /// scaled to sum to 1.
    #[arg(long, value_name = "NAME=W,...")]
    pub(crate) mix: Option<String>,

    /// List the model's styles (index, name, the painting each was trained on) and exit.
    #[arg(long)]
    pub(crate) list_styles: bool,

    /// Output folder (created if missing), or, for a single image, an output file whose
    /// extension picks the format (.png, .jpg, .webp, .bmp, .tif, .gif). Default: next to each
    /// input.
    #[arg(short, long, value_name = "PATH")]
    pub(crate) output: Option<PathBuf>,

    /// Shrink each image so that its longest side is at most this many pixels (after --scale).
    #[arg(long, value_name = "PIXELS", value_parser = parse_max_size, allow_negative_numbers = true)]
    pub(crate) max_size: Option<u32>,

    /// Resize each image by this factor before stylizing (e.g. 0.5 for half size).
    #[arg(long, value_name = "FACTOR", value_parser = parse_scale, allow_negative_numbers = true)]
    pub(crate) scale: Option<f32>,

    /// Compute device: cpu, cuda, cuda:N, or auto (a GPU when compiled in and present).
    #[arg(long, default_value = "auto", value_name = "DEVICE")]
    pub(crate) device: String,

    /// Name part added to output files. Default: the model's style name, or its file stem.
    #[arg(long, value_name = "TEXT")]
    pub(crate) suffix: Option<String>,

    /// How much of the style to apply: 0 gives the photo back, 1 the full style, values between
    /// a blend of the two.
    #[arg(long, default_value_t = 1.0, value_name = "S", value_parser = parse_strength, allow_negative_numbers = true)]
    pub(crate) strength: f32,

    /// Keep the photo's colours: take only the luminance (brightness) of the stylized image.
    #[arg(long)]
    pub(crate) preserve_colors: bool,

    /// Paint strokes S times the model's own size (1 to 16): the network runs on the photo
    /// shrunk by S and its result is enlarged back, the photo's edges kept sharp. A model's
    /// strokes are a fixed number of pixels, so a large photo wants a larger S to show them.
    #[arg(long, default_value_t = 1.0, value_name = "S", value_parser = parse_stroke_scale)]
    pub(crate) stroke_scale: f32,

    /// Stylize in tiles of this many pixels a side (with whole-image statistics, so no seams),
    /// whatever the image's size. Default: tiles only when one pass would exceed --max-memory.
    #[arg(long, value_name = "PIXELS", value_parser = parse_tile)]
    pub(crate) tile: Option<u32>,

    /// Context added around each tile, in pixels (rounded up to a multiple of 4). The default
    /// is the network's receptive-field radius: tiles then match one pass.
    #[arg(long, value_name = "PIXELS", default_value_t = fauve::DEFAULT_OVERLAP,
          value_parser = parse_overlap)]
    pub(crate) tile_overlap: u32,

    /// Treat the input as one video: a folder of frames (in number order) or a video file (needs
    /// the ffmpeg program). Frames are tied together so that still parts stay still. Output: a
    /// folder of frames, or a video file when -o names one (.mp4, .mkv, ...).
    #[arg(long)]
    pub(crate) video: bool,

    /// Frame rate of a video made from a folder of frames (default 25; a video file keeps its
    /// own).
    #[arg(long, value_name = "FPS", value_parser = parse_fps, requires = "video")]
    pub(crate) fps: Option<f64>,

    /// With --video: how much of the previous stylized frame, moved with the camera, is mixed
    /// into each new one where the photo did not change (0 to below 1; 0 mixes none).
    #[arg(long, value_name = "B", default_value_t = fauve::DEFAULT_BLEND, value_parser = parse_blend, requires = "video")]
    pub(crate) video_blend: f32,

    /// Memory budget for one forward pass, e.g. 2G or 512M: larger images are stylized in tiles
    /// that fit, and an image that would take more than this decoded is refused. Default: half
    /// the available memory (CPU) or 80% of the GPU's free memory.
    #[arg(long, value_name = "SIZE", value_parser = parse_memory)]
    pub(crate) max_memory: Option<u64>,
}

fn parse_fps(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 1000.0 => Ok(v),
        _ => Err("the frame rate must be a number above 0 (e.g. 24, 29.97)".into()),
    }
}

fn parse_blend(s: &str) -> Result<f32, String> {
    match s.parse::<f32>() {
        Ok(v) if (0.0..1.0).contains(&v) => Ok(v),
        _ => Err("the blend must be at least 0 and below 1".into()),
    }
}

fn parse_tile(s: &str) -> Result<u32, String> {
    let v: u32 = s
        .parse()
        .map_err(|_| "the tile side must be a whole number of pixels".to_string())?;
    if !(MIN_SIDE..=fauve::MAX_TILE).contains(&v) {
        return Err(format!(
            "the tile side must be {MIN_SIDE} to {} pixels",
            fauve::MAX_TILE
        ));
    }
    Ok(v)
}

fn parse_overlap(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(v) if v <= fauve::MAX_OVERLAP => Ok(v),
        _ => Err(format!(
            "the overlap must be a whole number of pixels, at most {}",
            fauve::MAX_OVERLAP
        )),
    }
}

/// `2G`, `512M`, `800K` or a number of bytes (binary units, any case, optional `B`/`iB`).
fn parse_memory(s: &str) -> Result<u64, String> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.trim_end_matches("ib").trim_end_matches('b');
    let (digits, shift) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 10),
        Some('m') => (&t[..t.len() - 1], 20),
        Some('g') => (&t[..t.len() - 1], 30),
        Some('t') => (&t[..t.len() - 1], 40),
        _ => (t, 0),
    };
    let v: f64 = digits.trim().parse().map_err(|_| {
        "the size must be a number with an optional unit: 2G, 512M, 800K".to_string()
    })?;
    let bytes = v * (1u64 << shift) as f64;
    if !(bytes.is_finite() && bytes >= (16u64 << 20) as f64) {
        return Err("the memory budget must be at least 16M".into());
    }
    Ok(bytes as u64)
}

fn parse_strength(s: &str) -> Result<f32, String> {
    let v: f32 = s
        .parse()
        .map_err(|_| "the strength must be a number".to_string())?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err("the strength must be between 0 (the photo) and 1 (the full style)".into())
    }
}

fn parse_stroke_scale(s: &str) -> Result<f32, String> {
    let v: f32 = s
        .parse()
        .map_err(|_| "the stroke scale must be a number".to_string())?;
    if (1.0..=fauve::MAX_STROKE_SCALE).contains(&v) {
        Ok(v)
    } else {
        Err(format!(
            "the stroke scale must be between 1 (the model's strokes) and {}",
            fauve::MAX_STROKE_SCALE
        ))
    }
}

fn parse_scale(s: &str) -> Result<f32, String> {
    // clap's message already quotes the value: these say only what is wrong with it.
    let v: f32 = s
        .parse()
        .map_err(|_| "the scale must be a number".to_string())?;
    if v.is_finite() && v > 0.0 && v <= 16.0 {
        Ok(v)
    } else {
        Err("the scale must be above 0 and at most 16 (0.5 halves each side)".into())
    }
}

fn parse_max_size(s: &str) -> Result<u32, String> {
    let v: u32 = s
        .parse()
        .map_err(|_| "the size must be a whole number of pixels".to_string())?;
    if v < MIN_SIDE {
        return Err(format!(
            "the size must be at least {MIN_SIDE} pixels, the smallest side the network accepts"
        ));
    }
    Ok(v)
}
