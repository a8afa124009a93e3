//! The shape of one convolution, and how its output pixels are cut into tiles.

/// Columns of an unfolded tile are capped near this many floats (1 MiB): the tile and GEMM's
/// packed copy of it then stay in this CPU's 2 MiB L2. Measured at 512x512 inference: 4 MiB
/// tiles 5-10% slower, 16 MiB 40% slower, 0.5 MiB the same.
const TILE_FLOATS: usize = 1 << 18;
/// Fewest output pixels in a tile; below this GEMM's packing costs more than it saves.
const MIN_TILE: usize = 256;
/// Most output pixels in a tile (for few input channels, where the cap above allows more).
const MAX_TILE: usize = 1024;

/// The operands of a convolution: a `[batch, cin, h, w]` input and a `[cout, cin, k, k]`
/// kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvShape {
    pub batch: usize,
    pub cin: usize,
    pub h: usize,
    pub w: usize,
    pub cout: usize,
    pub k: usize,
}

/// How the conv reads its input: upsampled `up` times (nearest), then padded by `pad` with
/// zeros or mirrored (`reflect`), all through index maps (nothing materialised).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    pub pad: usize,
    pub reflect: bool,
    pub up: usize,
}

impl Reading {
    /// Zero padding, no upsampling.
    pub fn zero_pad(pad: usize) -> Self {
        Self {
            pad,
            reflect: false,
            up: 1,
        }
    }
}

/// A square-kernel convolution of a `[batch, cin, h, w]` input with a `[cout, cin, k, k]`
/// kernel, stride `stride`, no dilation, one group. The conv reads a *virtual* input: the
/// stored one upsampled `up` times (nearest neighbour), then padded by `pad` on every side
/// with zeros or, when `reflect`, by mirroring (PyTorch's `ReflectionPad2d`). Reading through
/// these index maps spares materialising the upsampled and padded tensors.
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
    pub up: usize,
    pub reflect: bool,
    pub ho: usize,
    pub wo: usize,
    /// Output pixels per unfolded tile.
    pub tile: usize,
}

impl ConvGeom {
    /// Zero padding, no upsampling; None when the kernel does not fit in the padded input.
    pub fn new(shape: ConvShape, stride: usize, pad: usize) -> Option<Self> {
        Self::resampled(shape, stride, Reading::zero_pad(pad))
    }

    /// The general geometry; None when the kernel does not fit, or when reflection padding
    /// is not shorter than a side of the upsampled input.
    pub fn resampled(shape: ConvShape, stride: usize, reading: Reading) -> Option<Self> {
        let ConvShape {
            batch,
            cin,
            h,
            w,
            cout,
            k,
        } = shape;
        let Reading { pad, reflect, up } = reading;
        let (hv, wv) = (h * up, w * up);
        if k == 0 || stride == 0 || up == 0 || hv + 2 * pad < k || wv + 2 * pad < k {
            return None;
        }
        if reflect && (pad >= hv || pad >= wv) {
            return None;
        }
        let ho = (hv + 2 * pad - k) / stride + 1;
        let wo = (wv + 2 * pad - k) / stride + 1;
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
            up,
            reflect,
            ho,
            wo,
            tile,
        })
    }

    /// The operands of this conv.
    pub fn shape(&self) -> ConvShape {
        ConvShape {
            batch: self.batch,
            cin: self.cin,
            h: self.h,
            w: self.w,
            cout: self.cout,
            k: self.k,
        }
    }

    /// The operands of the adjoint conv, which runs from this conv's output side: its input is
    /// `[batch, cout, ho, wo]` and its kernel maps `cout` channels to `cin`.
    pub fn adjoint_shape(&self) -> ConvShape {
        ConvShape {
            batch: self.batch,
            cin: self.cout,
            h: self.ho,
            w: self.wo,
            cout: self.cin,
            k: self.k,
        }
    }

    /// The stored index read at padded virtual position `q` along a side of stored length
    /// `len`, or None where zero padding applies.
    fn source(&self, q: usize, len: usize) -> Option<usize> {
        let virt = (len * self.up) as isize;
        let mut j = q as isize - self.pad as isize;
        if j < 0 || j >= virt {
            if !self.reflect {
                return None;
            }
            j = if j < 0 { -j } else { 2 * (virt - 1) - j };
        }
        Some(j as usize / self.up)
    }

    /// The stored row read at padded virtual row `q`.
    pub fn src_row(&self, q: usize) -> Option<usize> {
        self.source(q, self.h)
    }

    /// The stored column read at padded virtual column `q`.
    pub fn src_col(&self, q: usize) -> Option<usize> {
        self.source(q, self.w)
    }

    /// Width of the upsampled (virtual) input.
    pub fn wv(&self) -> usize {
        self.w * self.up
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

    /// Stored input rows that output rows `oy0..=oy1` read, as `[first, end)` (empty when they
    /// read only padding).
    pub fn input_rows(&self, oy0: usize, oy1: usize) -> (usize, usize) {
        let rows = (oy0 * self.stride..oy1 * self.stride + self.k).filter_map(|q| self.src_row(q));
        let (first, last) = rows.fold((usize::MAX, 0), |(a, b), r| (a.min(r), b.max(r)));
        if first == usize::MAX {
            (0, 0)
        } else {
            (first, last + 1)
        }
    }
}

/// Whether a conv makes few output channels from many inputs (the transform network's last
/// 9x9 conv, 32 -> 3): its direct GEMM would have a handful of rows, so both the CPU kernels
/// (through the dual conv) and the generic path (shift-and-add) compute it another way.
pub(crate) fn few_outputs(cin: usize, cout: usize, k: usize, stride: usize) -> bool {
    stride == 1 && k > 1 && cout * 4 <= cin
}

/// Test shorthand for a [`ConvShape`].
#[cfg(test)]
pub(crate) fn shape(
    batch: usize,
    cin: usize,
    h: usize,
    w: usize,
    cout: usize,
    k: usize,
) -> ConvShape {
    ConvShape {
        batch,
        cin,
        h,
        w,
        cout,
        k,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reflected(pad: usize, up: usize) -> Reading {
        Reading {
            pad,
            reflect: true,
            up,
        }
    }

    #[test]
    fn output_size_and_tiles() {
        let g = ConvGeom::new(shape(2, 64, 129, 130, 32, 3), 2, 1).unwrap();
        assert_eq!((g.ho, g.wo), (65, 65));
        assert_eq!(g.tiles(), (65 * 65usize).div_ceil(g.tile));
        let (p0, n) = g.tile_range(g.tiles() - 1);
        assert_eq!(p0 + n, 65 * 65);
        assert!(ConvGeom::new(shape(1, 1, 2, 2, 1, 5), 1, 1).is_none());
    }

    #[test]
    fn input_rows_are_clamped() {
        let g = ConvGeom::new(shape(1, 1, 10, 10, 1, 3), 1, 1).unwrap();
        assert_eq!(g.input_rows(0, 0), (0, 2));
        assert_eq!(g.input_rows(9, 9), (8, 10));
        let g = ConvGeom::new(shape(1, 1, 11, 11, 1, 3), 2, 0).unwrap();
        assert_eq!(g.input_rows(1, 2), (2, 7));
        // Mirrored rows near the edge, and rows of the stored (pre-upsampling) input.
        let g = ConvGeom::resampled(shape(1, 1, 10, 10, 1, 3), 1, reflected(1, 1)).unwrap();
        assert_eq!(g.input_rows(0, 0), (0, 2));
        let g = ConvGeom::resampled(shape(1, 1, 5, 5, 1, 3), 1, reflected(1, 2)).unwrap();
        assert_eq!((g.ho, g.wo), (10, 10));
        assert_eq!(g.input_rows(9, 9), (4, 5));
    }

    #[test]
    fn sources_reflect_and_upsample_like_pytorch() {
        // ReflectionPad2d(2) of 4 positions reads 2 1 0 1 2 3 2 1.
        let g = ConvGeom::resampled(shape(1, 1, 4, 4, 1, 3), 1, reflected(2, 1)).unwrap();
        let cols: Vec<_> = (0..8).map(|q| g.src_col(q).unwrap()).collect();
        assert_eq!(cols, [2, 1, 0, 1, 2, 3, 2, 1]);
        // Upsampled x2 first (0 0 1 1 2 2), then mirrored by 1: 0 | 0 0 1 1 2 2 | 2.
        let g = ConvGeom::resampled(shape(1, 1, 3, 3, 1, 3), 1, reflected(1, 2)).unwrap();
        let cols: Vec<_> = (0..8).map(|q| g.src_col(q).unwrap()).collect();
        assert_eq!(cols, [0, 0, 0, 1, 1, 2, 2, 2]);
        let g = ConvGeom::new(shape(1, 1, 3, 3, 1, 3), 1, 1).unwrap();
        assert_eq!(
            (g.src_col(0), g.src_col(1), g.src_col(4)),
            (None, Some(0), None)
        );
    }
}
