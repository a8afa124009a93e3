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
use crate::model::channel_stats::ChannelStats;
use crate::model::norm_source::{PerImage, NORM_SITES};
use crate::model::transformer::{Next, PreNorm, TransformerNet};

/// Context around each tile, in pixels of the input: the network's receptive-field radius.
/// An output pixel depends on the input within 54 px of it (the 9x9 convs 4 px each, the
/// stride-2 convs 1 and 2, the ten residual convs at quarter resolution 4 each, the upsampling
/// convs 2 and 1), so with 56 px a tile's own part computes what one pass over the whole image
/// computes, up to the order of the statistics' sums (a test checks it).
pub const DEFAULT_OVERLAP: u32 = 56;

/// The most context a tile may read on each side; more only repeats work.
pub const MAX_OVERLAP: u32 = 512;

/// The smallest tile side [`crate::Stylizer::tiling_for`] picks.
pub const MIN_TILE: u32 = 64;

/// The largest tile side: a tile's pass needs about 460 bytes a pixel, 8 GB at this side.
pub const MAX_TILE: u32 = 4096;

/// How an image is cut: the side of each tile's own part (a multiple of 4) and the context
/// added around it (a multiple of 4), both checked when made, so every `Tiling` is one the
/// tiler can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tiling {
    tile: u32,
    overlap: u32,
    whole_image_stats: bool,
    cache_bytes: u64,
}

impl Tiling {
    /// Tiles of `tile` pixels a side with `overlap` pixels of context, both rounded up to
    /// multiples of 4, with whole-image statistics and no cache. Errors unless the tile is 8 to
    /// [`MAX_TILE`] pixels and the overlap at most [`MAX_OVERLAP`].
    pub fn new(tile: u32, overlap: u32) -> Result<Self> {
        if !(8..=MAX_TILE).contains(&tile) {
            return Err(Error::Invalid(format!(
                "the tile side must be 8 to {MAX_TILE} pixels, got {tile}"
            )));
        }
        if overlap > MAX_OVERLAP {
            return Err(Error::Invalid(format!(
                "the tile overlap must be at most {MAX_OVERLAP} pixels, got {overlap}"
            )));
        }
        Ok(Self {
            tile: tile.next_multiple_of(4),
            overlap: overlap.next_multiple_of(4),
            whole_image_stats: true,
            cache_bytes: 0,
        })
    }

    /// The same tiles, with `bytes` of memory that may hold tiles' activations from one norm
    /// layer to the next: each layer's pass starts from them for the tiles they hold (about
    /// one forward pass's work in all when every tile fits), from the photo for the others
    /// (about eight). The result is the same.
    pub fn with_cache_bytes(self, bytes: u64) -> Self {
        Self {
            cache_bytes: bytes,
            ..self
        }
    }

    /// The same tiles, each normalised over itself in one pass, as a naive tiler does: faster,
    /// but it shifts each tile's colours and leaves seams; it is there to compare against.
    pub fn per_tile_stats(self) -> Self {
        Self {
            whole_image_stats: false,
            ..self
        }
    }

    /// Side of the part of the image each tile contributes, in pixels.
    pub fn tile(&self) -> u32 {
        self.tile
    }

    /// Context added on each side where the image has it, in pixels.
    pub fn overlap(&self) -> u32 {
        self.overlap
    }

    /// Whether tiles are normalised with the whole image's statistics (the default).
    pub fn whole_image_stats(&self) -> bool {
        self.whole_image_stats
    }

    /// Bytes that may hold tiles' activations between passes.
    pub fn cache_bytes(&self) -> u64 {
        self.cache_bytes
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

    /// Adds `tile`'s core of its layer input `xs`, a band of rows at a time, so that the f64
    /// copy the sums are taken in stays small beside the tile's activations.
    fn add(&mut self, tile: &Tile, xs: &Tensor) -> Result<()> {
        const BAND_ROWS: usize = 8;
        let (_, c, h, w) = xs.dims4()?;
        let [(y0, y1), (x0, x1)] = core_in_layer(tile, self.site, [h, w], self.image);
        if y1 <= y0 || x1 <= x0 {
            return Ok(());
        }
        if self.sum.is_empty() {
            self.sum = vec![0.0; c];
            self.sum_sq = vec![0.0; c];
        }
        let core = xs.narrow(3, x0, x1 - x0)?;
        for band in (y0..y1).step_by(BAND_ROWS) {
            let rows = BAND_ROWS.min(y1 - band);
            let part = core
                .narrow(2, band, rows)?
                .to_dtype(DType::F64)?
                .squeeze(0)?
                .reshape((c, rows * (x1 - x0)))?;
            let sum = part.sum(1)?.to_vec1::<f64>()?;
            let sum_sq = part.sqr()?.sum(1)?.to_vec1::<f64>()?;
            for i in 0..c {
                self.sum[i] += sum[i];
                self.sum_sq[i] += sum_sq[i];
            }
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

/// What the cache did in one tiled stylization (for tests and profiling).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CacheUse {
    /// Tile passes that started from a cached activation instead of the photo.
    pub hits: usize,
    /// The most bytes the cache held at once.
    pub peak_bytes: u64,
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
) -> Result<(RgbImage, CacheUse)> {
    let (width, height) = img.dimensions();
    let tiles = plan(width, height, tiling);
    let passes = if tiling.whole_image_stats {
        NORM_SITES + 1
    } else {
        1
    };
    let mut run = TileRun {
        net,
        img,
        device,
        out: RgbImage::new(width.next_multiple_of(4), height.next_multiple_of(4)),
        done: 0,
        total: tiles.len() * passes,
        progress,
    };
    if !tiling.whole_image_stats {
        for tile in &tiles {
            let ys = net
                .forward_with(&run.input_of(tile)?, &mut PerImage)?
                .ok_or_else(|| Error::Invalid("tiling: the pass stopped".into()))?;
            run.paste(tile, &ys)?;
        }
        return Ok((run.out, CacheUse::default()));
    }
    let mut cache = TileCache::new(tiles.len(), tiling.cache_bytes);
    let mut found: Vec<ChannelStats> = Vec::with_capacity(NORM_SITES);
    for site in 0..NORM_SITES {
        let mut sums = Sums::new(site, [width, height]);
        for (i, tile) in tiles.iter().enumerate() {
            let pre = run.reach(tile, cache.take(i), site, &found)?;
            sums.add(tile, &pre.x)?;
            cache.offer(i, pre);
            run.step();
        }
        found.push(sums.stats(device)?);
    }
    for (i, tile) in tiles.iter().enumerate() {
        let pre = run.reach(tile, cache.take(i), NORM_SITES - 1, &found)?;
        let (layer, relu) = net.norm_layer(pre.site);
        let normed = layer.forward_with_stats(&pre.x, &found[pre.site], relu)?;
        let Next::Output(ys) = net.after_norm(pre, normed)? else {
            return Err(Error::Invalid("tiling: the last pass did not end".into()));
        };
        run.paste(tile, &ys)?;
    }
    Ok((run.out, cache.used))
}

/// Tiles' activations kept between passes, never more bytes than the budget, whatever the
/// tiles' sizes (interior tiles read context on both sides and are the largest).
struct TileCache {
    slots: Vec<Option<PreNorm>>,
    budget: u64,
    held: u64,
    used: CacheUse,
}

impl TileCache {
    fn new(tiles: usize, budget: u64) -> Self {
        Self {
            slots: vec![None; tiles],
            budget,
            held: 0,
            used: CacheUse::default(),
        }
    }

    /// Tile `i`'s kept activation, if any (it leaves the cache).
    fn take(&mut self, i: usize) -> Option<PreNorm> {
        let pre = self.slots[i].take()?;
        self.held -= pre.bytes();
        self.used.hits += 1;
        Some(pre)
    }

    /// Keeps tile `i`'s activation if it fits beside what is held.
    fn offer(&mut self, i: usize, pre: PreNorm) {
        let bytes = pre.bytes();
        if self.held + bytes <= self.budget {
            self.held += bytes;
            self.used.peak_bytes = self.used.peak_bytes.max(self.held);
            self.slots[i] = Some(pre);
        }
    }
}

/// One tiled stylization in progress: the tiles, the output being filled, the progress.
struct TileRun<'a> {
    net: &'a TransformerNet,
    img: &'a RgbImage,
    device: &'a Device,
    out: RgbImage,
    done: usize,
    total: usize,
    progress: &'a mut dyn FnMut(usize, usize),
}

impl TileRun<'_> {
    fn step(&mut self) {
        self.done += 1;
        (self.progress)(self.done, self.total);
    }

    /// The photo's part `tile` reads, as a network input.
    fn input_of(&self, tile: &Tile) -> Result<Tensor> {
        let [x, y] = tile.input;
        let part =
            image::imageops::crop_imm(self.img, x.start, y.start, x.end - x.start, y.end - y.start)
                .to_image();
        rgb_to_tensor(part, self.device)
    }

    /// Writes the core of `tile`'s output `ys` into the result.
    fn paste(&mut self, tile: &Tile, ys: &Tensor) -> Result<()> {
        let (_, _, h, w) = ys.dims4()?;
        let image = [self.img.width(), self.img.height()];
        let [(y0, y1), (x0, x1)] = core_in_layer(tile, 14, [h, w], image);
        let core = tensor_to_image(&ys.narrow(2, y0, y1 - y0)?.narrow(3, x0, x1 - x0)?)?;
        let [cx, cy] = tile.core;
        image::imageops::replace(
            &mut self.out,
            &core,
            i64::from(cx.start),
            i64::from(cy.start),
        );
        self.step();
        Ok(())
    }

    /// A tile's input of norm layer `site`: from its cached input of a layer before, else from
    /// the photo, normalising on the way with the statistics found so far.
    fn reach(
        &self,
        tile: &Tile,
        cached: Option<PreNorm>,
        site: usize,
        found: &[ChannelStats],
    ) -> Result<PreNorm> {
        let mut pre = match cached {
            Some(pre) => pre,
            None => self.net.first_norm_input(&self.input_of(tile)?)?,
        };
        while pre.site < site {
            let (layer, relu) = self.net.norm_layer(pre.site);
            let normed = layer.forward_with_stats(&pre.x, &found[pre.site], relu)?;
            pre = match self.net.after_norm(pre, normed)? {
                Next::Norm(next) => next,
                Next::Output(_) => {
                    return Err(Error::Invalid("tiling: ran past the layers".into()))
                }
            };
        }
        Ok(pre)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_cover_the_axis_once_on_multiples_of_four() {
        for len in [8u32, 9, 63, 64, 65, 500, 1030, 2401] {
            for (tile, overlap) in [(8u32, 0u32), (64, 16), (512, 64), (100, 8)] {
                let tiling = Tiling::new(tile, overlap).unwrap();
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

    /// A network with random weights and a 100x84 photo in 48 px tiles: 3x2 tiles, the
    /// interior ones reading context on both sides.
    fn setup() -> (TransformerNet, RgbImage, Vec<Tile>, Tiling) {
        let varmap = candle_nn::VarMap::new();
        let vb = candle_nn::VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let net = TransformerNet::new(crate::Precision::F32, vb).unwrap();
        let img = RgbImage::from_fn(100, 84, |x, y| {
            image::Rgb([
                (x * 5 % 256) as u8,
                (y * 7 % 256) as u8,
                ((x * y) % 256) as u8,
            ])
        });
        let tiling = Tiling::new(48, 16).unwrap();
        (net, img, plan(100, 84, tiling), tiling)
    }

    /// What the cache holds never exceeds its budget (interior tiles are the largest, so a
    /// budget sized on the first tile would be overrun), it is really used where it fits, and
    /// the image is the same whatever it holds.
    #[test]
    fn the_cache_stays_in_its_budget_and_is_used() -> anyhow::Result<()> {
        let (net, img, tiles, tiling) = setup();
        let run = |budget: u64| {
            stylize_tiled(
                &net,
                &img,
                &Device::Cpu,
                tiling.with_cache_bytes(budget),
                &mut |_, _| {},
            )
            .unwrap()
        };
        let (none_img, none) = run(0);
        assert_eq!(none, CacheUse::default());
        let (all_img, all) = run(u64::MAX);
        // Every pass after the first starts from the cache, for every tile.
        assert_eq!(all.hits, tiles.len() * NORM_SITES);
        // A budget for about half the tiles: some passes start from the cache, and the cache
        // never holds more than the budget.
        let budget = all.peak_bytes / 2;
        let (half_img, half) = run(budget);
        assert!(half.hits > 0 && half.hits < all.hits, "{half:?} vs {all:?}");
        assert!(half.peak_bytes <= budget, "{half:?} over {budget}");
        assert!(none_img == all_img && half_img == all_img);
        Ok(())
    }
}
