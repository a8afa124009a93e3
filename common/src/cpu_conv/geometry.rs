//! The shape of one convolution, and how its output pixels are cut into tiles.

/// Columns of an unfolded tile are capped near this many floats (4 MiB): big enough for GEMM to
/// reach its peak, small enough to stay in the last-level cache beside the kernel.
const TILE_FLOATS: usize = 1 << 20;
/// Fewest output pixels in a tile; below this GEMM's packing costs more than it saves.
const MIN_TILE: usize = 256;
/// Most output pixels in a tile: wider tiles measured slower (the packed panel leaves L2).
const MAX_TILE: usize = 2048;

/// A square-kernel convolution of a `[batch, cin, h, w]` input with a `[cout, cin, k, k]`
/// kernel, zero padding `pad` on every side, stride `stride`, no dilation, one group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeom {
    pub batch: usize,
    pub cin: usize,
    pub h: usize,
    pub w: usize,
    pub cout: usize,
    pub k: usize,
    pub stride: usize,
    pub pad: usize,
    pub ho: usize,
    pub wo: usize,
    /// Output pixels per unfolded tile.
    pub tile: usize,
}

impl ConvGeom {
    /// The geometry, or None when the kernel does not fit in the padded input.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        batch: usize,
        cin: usize,
        h: usize,
        w: usize,
        cout: usize,
        k: usize,
        stride: usize,
        pad: usize,
    ) -> Option<Self> {
        if k == 0 || stride == 0 || h + 2 * pad < k || w + 2 * pad < k {
            return None;
        }
        let ho = (h + 2 * pad - k) / stride + 1;
        let wo = (w + 2 * pad - k) / stride + 1;
        let tile = (TILE_FLOATS / (cin * k * k).max(1)).clamp(MIN_TILE, MAX_TILE);
        Some(Self {
            batch,
            cin,
            h,
            w,
            cout,
            k,
            stride,
            pad,
            ho,
            wo,
            tile,
        })
    }

    /// Rows of the unfolded input: one per (input channel, kernel row, kernel column).
    pub fn krows(&self) -> usize {
        self.cin * self.k * self.k
    }

    /// Pixels of one input channel.
    pub fn in_plane(&self) -> usize {
        self.h * self.w
    }

    /// Pixels of one output channel.
    pub fn out_plane(&self) -> usize {
        self.ho * self.wo
    }

    /// Tiles per image.
    pub fn tiles(&self) -> usize {
        self.out_plane().div_ceil(self.tile)
    }

    /// Output pixels `[p0, p0 + n)` of tile `t`.
    pub fn tile_range(&self, t: usize) -> (usize, usize) {
        let p0 = t * self.tile;
        (p0, self.tile.min(self.out_plane() - p0))
    }

    /// Input rows that output rows `oy0..=oy1` read (clamped to the image), as `[first, end)`.
    pub fn input_rows(&self, oy0: usize, oy1: usize) -> (usize, usize) {
        let first = (oy0 * self.stride).saturating_sub(self.pad);
        let end = (oy1 * self.stride + self.k)
            .saturating_sub(self.pad)
            .min(self.h);
        (first, end.max(first))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_size_and_tiles() {
        let g = ConvGeom::new(2, 64, 129, 130, 32, 3, 2, 1).unwrap();
        assert_eq!((g.ho, g.wo), (65, 65));
        assert_eq!(g.tiles(), (65 * 65usize).div_ceil(g.tile));
        let (p0, n) = g.tile_range(g.tiles() - 1);
        assert_eq!(p0 + n, 65 * 65);
        assert!(ConvGeom::new(1, 1, 2, 2, 1, 5, 1, 1).is_none());
    }

    #[test]
    fn input_rows_are_clamped() {
        let g = ConvGeom::new(1, 1, 10, 10, 1, 3, 1, 1).unwrap();
        assert_eq!(g.input_rows(0, 0), (0, 2));
        assert_eq!(g.input_rows(9, 9), (8, 10));
        let g = ConvGeom::new(1, 1, 11, 11, 1, 3, 2, 0).unwrap();
        assert_eq!(g.input_rows(1, 2), (2, 7));
    }
}
