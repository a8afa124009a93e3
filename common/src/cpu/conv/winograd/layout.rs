//! How a Winograd conv's output is cut into 2x2 tiles and bands of tile rows (one task each),
//! and where each padded virtual input row and column is read from.

use crate::cpu::conv::geometry::ConvGeom;

/// Floats of transformed input (or products) per GEMM block, `16 × channels × tiles`: 1 MiB,
/// which stays in this CPU's 2 MiB L2 beside the GEMM's packed copy (4 MiB blocks ran the 512
/// channel VGG layers 1.4x slower than im2col).
const BLOCK_FLOATS: usize = 1 << 18;

/// How the output is cut into tiles and bands, and where each padded virtual row and column
/// of the input comes from.
pub(super) struct Layout {
    /// Tiles across and down.
    pub(super) tiles_x: usize,
    pub(super) tiles_y: usize,
    /// Tile rows per band.
    pub(super) band: usize,
    /// Stored row (or -1: zero) of each padded virtual row `0..2·tiles_y + 2`.
    pub(super) rows: Vec<isize>,
    /// Stored column (or -1) of each padded virtual column `0..2·tiles_x + 2`.
    pub(super) cols: Vec<isize>,
}

impl Layout {
    pub(super) fn new(g: &ConvGeom) -> Self {
        let (tiles_x, tiles_y) = (g.wo.div_ceil(2), g.ho.div_ceil(2));
        let block_tiles = BLOCK_FLOATS / (16 * g.cin.max(g.cout));
        let band = (block_tiles / tiles_x).clamp(1, tiles_y);
        // Positions past the padded input (odd output sides) read zeros; their outputs are
        // not written.
        let (hp, wp) = (g.ho + 2, g.wo + 2);
        let map = |n: usize, len: usize, src: &dyn Fn(usize) -> Option<usize>| -> Vec<isize> {
            (0..n)
                .map(|q| {
                    if q < len {
                        src(q).map_or(-1, |i| i as isize)
                    } else {
                        -1
                    }
                })
                .collect()
        };
        Self {
            tiles_x,
            tiles_y,
            band,
            rows: map(2 * tiles_y + 2, hp, &|q| g.src_row(q)),
            cols: map(2 * tiles_x + 2, wp, &|q| g.src_col(q)),
        }
    }

    pub(super) fn bands(&self) -> usize {
        self.tiles_y.div_ceil(self.band)
    }
}
