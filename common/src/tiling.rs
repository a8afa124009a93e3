//! Stylizing an image too large for one forward pass: tile by tile, each tile with a margin of
//! context around the part it contributes, and every instance-norm layer normalised with the
//! statistics of the whole image rather than of the tile (per-tile statistics shift each
//! tile's colours and leave seams).
//!
//! The whole-image statistics are found one layer at a time: the tiles are run up to layer `k`
//! with the statistics already found for the layers before it, and layer `k`'s input is summed
//! over each tile's own part. Where every tile's layer input fits in [`Tiling::cache_bytes`],
//! the next layer's pass starts from it (about one forward pass's work in all); otherwise from
//! the photo again (about eight), in the memory of one tile. Tile corners sit on multiples of 4 pixels, so each tile's
//! downsampled grids are those of the whole image, and a tile touching the image's edge sees
//! the same reflection padding as the whole image does.

use candle_core::{DType, Device, Tensor};
use image::RgbImage;

use crate::error::{Error, Result};
use crate::io::image::{rgb_to_tensor, tensor_to_image};
use crate::model::norm_source::{ChannelStats, PerImage, NORM_SITES};
use crate::model::transformer::{Next, PreNorm, TransformerNet};

/// Context around each tile, in pixels of the input: enough that the network's receptive
/// field reaches no tile edge it would see differently in the whole image (measured: see
/// docs/tiling.md).
pub const DEFAULT_OVERLAP: u32 = 32;

/// The smallest tile side [`tile_for_budget`] picks.
pub const MIN_TILE: u32 = 64;

/// How an image is cut: the side of each tile's own part (a multiple of 4) and the context
/// added around it (a multiple of 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tiling {
    /// Side of the part of the image each tile contributes, in pixels.
    pub tile: u32,
    /// Context added on each side where the image has it, in pixels.
    pub overlap: u32,
    /// Normalise with the whole image's statistics (true, the default). False normalises each
    /// tile over itself in one pass, as a naive tiler does: faster, but it shifts each tile's
    /// colours and leaves seams; it is there to compare against.
    pub whole_image_stats: bool,
    /// Bytes of memory that may hold every tile's activation from one norm layer to the next.
    /// Where they fit, each layer's pass starts from them (about one forward pass's work in
    /// all); where not, from the photo (about eight). The result is the same.
    pub cache_bytes: u64,
}

impl Tiling {
    /// `tile` and `overlap` rounded up to multiples of 4, the tile at least 8 pixels, with
    /// whole-image statistics.
    pub fn new(tile: u32, overlap: u32) -> Self {
        Self {
            tile: tile.max(8).next_multiple_of(4),
            overlap: overlap.next_multiple_of(4),
            whole_image_stats: true,
            cache_bytes: 0,
        }
    }
}

/// A half-open pixel range `[start, end)` on one axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: u32,
    end: u32,
}

/// One tile: the part it contributes (`core`) and the part it reads (`input`), per axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tile {
    core: [Span; 2],
    input: [Span; 2],
}

/// Splits `len` pixels into cores of at most `tile` pixels (multiples of 4 but the last),
/// as equal as possible, each read with `overlap` pixels of context on each side.
fn spans(len: u32, tiling: Tiling) -> Vec<(Span, Span)> {
    let n = len.div_ceil(tiling.tile).max(1);
    let size = len.div_ceil(n).next_multiple_of(4);
    (0..n)
        .map(|i| i * size)
        .take_while(|&start| start < len)
        .map(|start| {
            let core = Span {
                start,
                end: (start + size).min(len),
            };
            // At least 8 pixels read (the network's smallest input), starting on a multiple of
            // 4, however small the last core.
            let input = Span {
                start: core
                    .start
                    .saturating_sub(tiling.overlap)
                    .min(core.end.saturating_sub(8) / 4 * 4),
                end: (core.end + tiling.overlap).min(len),
            };
            (core, input)
        })
        .collect()
}

/// The tiles of a `width` x `height` image, row by row.
fn plan(width: u32, height: u32, tiling: Tiling) -> Vec<Tile> {
    let columns = spans(width, tiling);
    spans(height, tiling)
        .into_iter()
        .flat_map(|(core_y, input_y)| {
            columns.iter().map(move |&(core_x, input_x)| Tile {
                core: [core_x, core_y],
                input: [input_x, input_y],
            })
        })
        .collect()
}

/// The core of `tile` in the coordinates of an activation of `size` (height, width) at norm
/// layer `site`: a core that ends at the image's edge takes the activation to its end (the
/// network rounds odd sides up).
fn core_in_layer(
    tile: &Tile,
    site: usize,
    size: [usize; 2],
    image: [u32; 2],
) -> [(usize, usize); 2] {
    let s = TransformerNet::norm_scale(site);
    // Axis 0 is y (height), axis 1 is x (width); the tile's spans are [x, y].
    [1usize, 0].map(|axis| {
        let (core, input) = (tile.core[axis], tile.input[axis]);
        let dim = size[1 - axis];
        let start = ((core.start - input.start) / s) as usize;
        let end = if core.end == image[axis] {
            dim
        } else {
            ((core.end - input.start) / s) as usize
        };
        (start, end.min(dim))
    })
}

/// Per-channel sums of one layer's input over the tiles' cores.
struct Sums {
    site: usize,
    image: [u32; 2],
    sum: Vec<f64>,
    sum_sq: Vec<f64>,
    count: f64,
}

impl Sums {
    fn new(site: usize, image: [u32; 2]) -> Self {
        Self {
            site,
            image,
            sum: Vec::new(),
            sum_sq: Vec::new(),
            count: 0.0,
        }
    }

    /// Adds `tile`'s core of its layer input `xs`.
    fn add(&mut self, tile: &Tile, xs: &Tensor) -> Result<()> {
        let (_, c, h, w) = xs.dims4()?;
        let [(y0, y1), (x0, x1)] = core_in_layer(tile, self.site, [h, w], self.image);
        if y1 <= y0 || x1 <= x0 {
            return Ok(());
        }
        let part = xs
            .narrow(2, y0, y1 - y0)?
            .narrow(3, x0, x1 - x0)?
            .to_dtype(DType::F64)?
            .squeeze(0)?
            .reshape((c, (y1 - y0) * (x1 - x0)))?;
        let sum = part.sum(1)?.to_vec1::<f64>()?;
        let sum_sq = part.sqr()?.sum(1)?.to_vec1::<f64>()?;
        if self.sum.is_empty() {
            self.sum = vec![0.0; c];
            self.sum_sq = vec![0.0; c];
        }
        for i in 0..c {
            self.sum[i] += sum[i];
            self.sum_sq[i] += sum_sq[i];
        }
        self.count += ((y1 - y0) * (x1 - x0)) as f64;
        Ok(())
    }

    fn stats(&self, device: &Device) -> Result<ChannelStats> {
        if self.count == 0.0 {
            return Err(Error::Invalid("tiling: a norm layer saw no pixels".into()));
        }
        let mean: Vec<f32> = self.sum.iter().map(|s| (s / self.count) as f32).collect();
        let var: Vec<f32> = self
            .sum
            .iter()
            .zip(&self.sum_sq)
            .map(|(s, q)| {
                let m = s / self.count;
                (q / self.count - m * m).max(0.0) as f32
            })
            .collect();
        let c = mean.len();
        Ok(ChannelStats {
            mean: Tensor::from_vec(mean, c, device)?,
            var: Tensor::from_vec(var, c, device)?,
        })
    }
}

/// `img` through the network tile by tile, with whole-image norm statistics unless `tiling`
/// says otherwise. The result is the network's raw output size (sides rounded up to multiples
/// of 4), clamped and rounded to 8 bits. `progress(done, total)` is called after each tile
/// pass.
pub(crate) fn stylize_tiled(
    net: &TransformerNet,
    img: &RgbImage,
    device: &Device,
    tiling: Tiling,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<RgbImage> {
    let (width, height) = img.dimensions();
    let tiles = plan(width, height, tiling);
    let passes = if tiling.whole_image_stats {
        NORM_SITES + 1
    } else {
        1
    };
    let total = tiles.len() * passes;
    let mut done = 0;
    let input_of = |tile: &Tile| -> Result<Tensor> {
        let [x, y] = tile.input;
        let part =
            image::imageops::crop_imm(img, x.start, y.start, x.end - x.start, y.end - y.start)
                .to_image();
        rgb_to_tensor(part, device)
    };
    let out_size = |len: u32| len.next_multiple_of(4);
    let mut out = RgbImage::new(out_size(width), out_size(height));
    let mut paste = |tile: &Tile, ys: &Tensor| -> Result<()> {
        let (_, _, h, w) = ys.dims4()?;
        let [(y0, y1), (x0, x1)] = core_in_layer(tile, 14, [h, w], [width, height]);
        let core = tensor_to_image(&ys.narrow(2, y0, y1 - y0)?.narrow(3, x0, x1 - x0)?)?;
        let [cx, cy] = tile.core;
        image::imageops::replace(&mut out, &core, i64::from(cx.start), i64::from(cy.start));
        Ok(())
    };
    if !tiling.whole_image_stats {
        for tile in &tiles {
            let ys = net
                .forward_with(&input_of(tile)?, &mut PerImage)?
                .ok_or_else(|| Error::Invalid("tiling: the pass stopped".into()))?;
            paste(tile, &ys)?;
            done += 1;
            progress(done, total);
        }
        return Ok(out);
    }
    let mut found: Vec<ChannelStats> = Vec::with_capacity(NORM_SITES);
    // Each tile's input of the last norm layer whose statistics were being found, where the
    // cache holds it.
    let mut cache: Vec<Option<PreNorm>> = vec![None; tiles.len()];
    // A tile's input of norm layer `site`: from its cached input of the layer before, else from
    // the photo, normalising on the way with the statistics found so far.
    let reach = |tile: &Tile, cached: Option<PreNorm>, site: usize, found: &[ChannelStats]| {
        let mut pre = match cached {
            Some(pre) => pre,
            None => net.first_norm_input(&input_of(tile)?)?,
        };
        while pre.site < site {
            let (layer, relu) = net.norm_layer(pre.site);
            let normed = layer.forward_with_stats(&pre.x, &found[pre.site], relu)?;
            pre = match net.after_norm(pre, normed)? {
                Next::Norm(next) => next,
                Next::Output(_) => {
                    return Err(Error::Invalid("tiling: ran past the layers".into()))
                }
            };
        }
        Ok::<PreNorm, Error>(pre)
    };
    for site in 0..NORM_SITES {
        let mut sums = Sums::new(site, [width, height]);
        let mut keep = false;
        for (i, tile) in tiles.iter().enumerate() {
            let pre = reach(tile, cache[i].take(), site, &found)?;
            sums.add(tile, &pre.x)?;
            if i == 0 {
                // The first tile is the largest: keep them all if that many fit.
                let bytes = pre.bytes() * tiles.len() as u64;
                keep = bytes <= tiling.cache_bytes;
            }
            if keep {
                cache[i] = Some(pre);
            }
            done += 1;
            progress(done, total);
        }
        found.push(sums.stats(device)?);
    }
    for (i, tile) in tiles.iter().enumerate() {
        let pre = reach(tile, cache[i].take(), NORM_SITES - 1, &found)?;
        let (layer, relu) = net.norm_layer(pre.site);
        let normed = layer.forward_with_stats(&pre.x, &found[pre.site], relu)?;
        let Next::Output(ys) = net.after_norm(pre, normed)? else {
            return Err(Error::Invalid("tiling: the last pass did not end".into()));
        };
        paste(tile, &ys)?;
        done += 1;
        progress(done, total);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_cover_the_axis_once_on_multiples_of_four() {
        for len in [8u32, 9, 63, 64, 65, 500, 1030, 2401] {
            for (tile, overlap) in [(8u32, 0u32), (64, 16), (512, 64), (100, 8)] {
                let tiling = Tiling::new(tile, overlap);
                let s = spans(len, tiling);
                assert_eq!(s[0].0.start, 0);
                assert_eq!(s.last().unwrap().0.end, len, "{len} {tiling:?}");
                for pair in s.windows(2) {
                    assert_eq!(pair[0].0.end, pair[1].0.start);
                }
                for (core, input) in &s {
                    assert_eq!(core.start % 4, 0);
                    assert_eq!(input.start % 4, 0);
                    assert!(core.end - core.start <= tiling.tile);
                    assert!(input.start <= core.start && input.end >= core.end);
                    assert!(
                        input.end - input.start >= 8.min(len),
                        "{len} {tiling:?} {s:?}"
                    );
                }
            }
        }
    }
}
