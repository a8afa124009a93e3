//! Stylizing the frames of a video one after another without flicker. Three causes, three
//! remedies, each a [`VideoOptions`] field: each instance-norm layer normally takes its
//! statistics from the frame itself, so anything entering the frame renormalises all of it
//! (running statistics instead); the network samples on a 4-pixel grid, so a camera moving by
//! other amounts re-draws every stroke (the content is kept on one grid phase); and sensor
//! noise changes strokes at random (the previous stylized frame, moved with the camera, is
//! mixed in where the photo did not change).

use candle_core::Tensor;
use image::{DynamicImage, GrayImage, RgbImage};

use crate::adjust::{self, StyleOptions};
use crate::error::{Error, Result};
use crate::io::image::{rgb_to_tensor, tensor_to_image};
use crate::model::channel_stats::ChannelStats;
use crate::model::instance_norm::InstanceNorm;
use crate::model::norm_source::{NormSource, NORM_SITES};
use crate::model::transformer::TransformerNet;
use crate::motion;
use crate::stroke_scale;
use crate::stylizer::Stylizer;

/// The share of the running statistics kept at each frame (the rest is the new frame's): 0.9
/// averages over about the last ten frames.
pub const DEFAULT_MOMENTUM: f32 = 0.9;

/// Each norm layer's running statistics.
struct RunningStats {
    momentum: f64,
    stats: Vec<Option<ChannelStats>>,
}

impl NormSource for RunningStats {
    fn normalize(
        &mut self,
        site: usize,
        layer: &InstanceNorm,
        xs: &Tensor,
        relu: bool,
    ) -> Result<Option<Tensor>> {
        let frame = ChannelStats::of(xs)?;
        let (m, f) = (self.momentum, 1.0 - self.momentum);
        let stats = match self.stats[site].take() {
            None => frame,
            Some(old) => ChannelStats {
                mean: ((old.mean * m)? + (frame.mean * f)?)?,
                var: ((old.var * m)? + (frame.var * f)?)?,
            },
        };
        let ys = layer.forward_with_stats(xs, &stats, relu)?;
        self.stats[site] = Some(stats);
        Ok(Some(ys))
    }
}

/// How the frames of a video are tied together.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VideoOptions {
    /// The share of each norm layer's running statistics kept at each frame (0: each frame its
    /// own statistics).
    pub momentum: f32,
    /// Keep the content of a moving camera on the same phase of the network's 4-pixel sampling
    /// grid (the network downsamples twice by 2, so a 2-pixel pan otherwise re-draws every
    /// stroke on each frame).
    pub align: bool,
    /// The share of the previous stylized frame, moved by the camera's motion, mixed into each
    /// new one where the photo itself did not change (0: none).
    pub blend: f32,
}

impl Default for VideoOptions {
    fn default() -> Self {
        Self {
            momentum: DEFAULT_MOMENTUM,
            align: true,
            blend: DEFAULT_BLEND,
        }
    }
}

/// See [`VideoOptions::blend`]: measured on a noisy pan (docs/video.md).
pub const DEFAULT_BLEND: f32 = 0.5;

/// Where two frames' luma differs by more than this many levels, the scene changed there (not
/// just sensor noise), and the previous frame is not mixed in.
const CHANGE_THRESHOLD: u8 = 20;

/// A mean absolute luma difference between consecutive frames (after the camera's motion)
/// above this many levels is a cut to another scene: sensor noise and small moving things stay
/// far below it.
const CUT_THRESHOLD: f64 = 24.0;

/// What a frame leaves for the next.
struct Previous {
    luma: GrayImage,
    output: RgbImage,
}

/// Stylizes the frames of one video in order, tying each frame to the ones before it (see
/// [`VideoOptions`]) so that still parts stay still. Made by [`Stylizer::sequence`].
pub struct FrameStylizer<'a> {
    stylizer: &'a Stylizer,
    /// The network of the options' style or mix.
    net: TransformerNet,
    options: StyleOptions,
    video: VideoOptions,
    running: RunningStats,
    previous: Option<Previous>,
    /// The camera's motion since the first frame (or the last change of frame size).
    travelled: (i64, i64),
}

// Here rather than in stylizer.rs, so that the stylizer does not depend on this module.
impl Stylizer {
    /// A stylizer for the frames of one video, in order, each tied to those before it as
    /// `video` says, so that still parts stay still (see [`crate::VideoOptions`]).
    pub fn sequence(
        &self,
        options: StyleOptions,
        video: VideoOptions,
    ) -> Result<FrameStylizer<'_>> {
        FrameStylizer::new(self, options, video)
    }
}

impl<'a> FrameStylizer<'a> {
    pub(crate) fn new(
        stylizer: &'a Stylizer,
        options: StyleOptions,
        video: VideoOptions,
    ) -> Result<Self> {
        options.validate()?;
        if !(0.0..1.0).contains(&video.momentum) || !(0.0..1.0).contains(&video.blend) {
            return Err(Error::Invalid(format!(
                "the momentum and the blend must be at least 0 and below 1, got {} and {}",
                video.momentum, video.blend
            )));
        }
        Ok(Self {
            net: stylizer.network_for(&options.style)?.into_owned(),
            stylizer,
            options,
            video,
            running: RunningStats {
                momentum: f64::from(video.momentum),
                stats: vec![None; NORM_SITES],
            },
            previous: None,
            travelled: (0, 0),
        })
    }

    /// Stylizes the next frame (any size; the result has the frame's size) and finishes it as
    /// the options say. With a stroke scale, the network and the ties between frames work on
    /// the frame shrunk by it.
    pub fn stylize(&mut self, frame: &DynamicImage) -> Result<RgbImage> {
        crate::stylizer::check_size(frame.width(), frame.height())?;
        let rgb = crate::to_rgb(frame);
        let stylized = if self.options.stroke_scale == 1.0 {
            self.stylize_frame(&rgb)?
        } else {
            let small = stroke_scale::shrink(&rgb, self.options.stroke_scale);
            let out = self.stylize_frame(&small)?;
            stroke_scale::enlarge(&out, &small, &rgb)
        };
        if self.options.is_identity() {
            return Ok(stylized);
        }
        adjust::finish(&rgb, stylized, &self.options)
    }

    /// The network's result on `rgb`, tied to the frames before it.
    fn stylize_frame(&mut self, rgb: &RgbImage) -> Result<RgbImage> {
        let (w, h) = rgb.dimensions();
        let luma = motion::luma(rgb);
        let previous = self
            .previous
            .take()
            .filter(|p| p.luma.dimensions() == (w, h));
        let found = previous
            .as_ref()
            .map(|p| motion::estimate_shift(&p.luma, &luma));
        // A cut (or the first frame): nothing carries over, not even the norm statistics.
        let (previous, shift) = match found {
            Some((shift, left)) if left <= CUT_THRESHOLD => (previous, shift),
            _ => {
                self.travelled = (0, 0);
                self.running.stats = vec![None; NORM_SITES];
                (None, (0, 0))
            }
        };
        self.travelled.0 += i64::from(shift.0);
        self.travelled.1 += i64::from(shift.1);
        let (ox, oy) = if self.video.align {
            (
                self.travelled.0.rem_euclid(4) as u32,
                self.travelled.1.rem_euclid(4) as u32,
            )
        } else {
            (0, 0)
        };
        let xs = rgb_to_tensor(pad_reflect(rgb, ox, oy), self.stylizer.device())?;
        let ys = self
            .net
            .forward_with(&xs, &mut self.running)?
            .ok_or_else(|| Error::Invalid("the forward pass was stopped".into()))?;
        let out = tensor_to_image(&ys)?;
        let mut stylized = image::imageops::crop_imm(&out, ox, oy, w, h).to_image();
        if let Some(p) = &previous {
            mix_previous(&mut stylized, &luma, p, shift, self.video.blend);
        }
        self.previous = Some(Previous {
            luma,
            output: stylized.clone(),
        });
        Ok(stylized)
    }
}

/// `img` with `left` columns and `top` rows mirrored in front of it (the reflection the
/// network's own padding uses).
fn pad_reflect(img: &RgbImage, left: u32, top: u32) -> RgbImage {
    if left == 0 && top == 0 {
        return img.clone();
    }
    let (w, h) = img.dimensions();
    let reflect = |v: u32, pad: u32, len: u32| -> u32 {
        if v >= pad {
            v - pad
        } else {
            (pad - v).min(len - 1)
        }
    };
    RgbImage::from_fn(w + left, h + top, |x, y| {
        *img.get_pixel(reflect(x, left, w), reflect(y, top, h))
    })
}

/// Mixes `blend` of the previous stylized frame, moved by the camera's `shift`, into
/// `stylized` wherever the photo's luma agrees with the previous photo's there.
fn mix_previous(
    stylized: &mut RgbImage,
    luma: &GrayImage,
    previous: &Previous,
    shift: (i32, i32),
    blend: f32,
) {
    if blend == 0.0 {
        return;
    }
    let (w, h) = stylized.dimensions();
    for y in 0..h {
        for x in 0..w {
            let (px, py) = (x as i64 + i64::from(shift.0), y as i64 + i64::from(shift.1));
            if px < 0 || py < 0 || px >= i64::from(w) || py >= i64::from(h) {
                continue;
            }
            let (px, py) = (px as u32, py as u32);
            let now = luma.get_pixel(x, y).0[0];
            let before = previous.luma.get_pixel(px, py).0[0];
            if now.abs_diff(before) > CHANGE_THRESHOLD {
                continue;
            }
            let old = previous.output.get_pixel(px, py);
            let new = stylized.get_pixel_mut(x, y);
            for c in 0..3 {
                let v = blend * f32::from(old.0[c]) + (1.0 - blend) * f32::from(new.0[c]);
                new.0[c] = v.round().clamp(0.0, 255.0) as u8;
            }
        }
    }
}
