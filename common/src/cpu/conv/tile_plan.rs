//! What unfolding one tile of output pixels reads, worked out once per tile: the output-row
//! segments the tile crosses, the stored input row of each (segment, kernel row) and the
//! in-bounds span of each (segment, kernel column). im2col and col2im visit every segment once
//! per (channel, kernel row, kernel column); working these out there cost several integer
//! divisions per visit, which on narrow images (VGG16's 16-pixel rows at 128 px) outweighed
//! the copying itself.

use super::geometry::ConvGeom;

/// The pixels of one output row that a tile holds: tile columns `i..i + cnt` are output
/// pixels `ox0..ox0 + cnt` of row `oy`.
#[derive(Debug, Clone, Copy)]
pub struct Segment {
    pub i: usize,
    oy: usize,
    ox0: usize,
    pub cnt: usize,
}

/// How one segment reads along one kernel column: positions `lo..hi` of the segment read
/// consecutive in-bounds virtual columns from `first` on (stride apart); the others, in the
/// padding, are listed in the plan's border entries.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    pub lo: usize,
    pub hi: usize,
    pub first: usize,
    border: (usize, usize),
}

/// The reading plan of one tile (see the module documentation).
#[derive(Debug)]
pub struct TilePlan {
    pub segments: Vec<Segment>,
    k: usize,
    /// Stored input row per (segment, kernel row); None in zero padding.
    rows: Vec<Option<usize>>,
    /// Per (segment, kernel column).
    spans: Vec<Span>,
    /// (segment position, stored column or None for zero padding) of positions outside a
    /// span's `lo..hi`.
    border: Vec<(usize, Option<usize>)>,
}

impl TilePlan {
    /// The plan for output pixels `[p0, p0 + n)` of one image.
    pub fn new(g: &ConvGeom, p0: usize, n: usize) -> Self {
        let mut segments = Vec::with_capacity(n / g.wo.max(1) + 2);
        let mut i = 0;
        while i < n {
            let p = p0 + i;
            let (oy, ox0) = (p / g.wo, p % g.wo);
            let cnt = (g.wo - ox0).min(n - i);
            segments.push(Segment { i, oy, ox0, cnt });
            i += cnt;
        }
        let mut rows = Vec::with_capacity(segments.len() * g.k);
        let mut spans = Vec::with_capacity(segments.len() * g.k);
        let mut border = Vec::new();
        for seg in &segments {
            rows.extend((0..g.k).map(|ki| g.src_row(seg.oy * g.stride + ki)));
            for kj in 0..g.k {
                let (lo, hi) = valid_span(g, seg.ox0, seg.cnt, kj);
                let start = border.len();
                border.extend(
                    (0..lo)
                        .chain(hi..seg.cnt)
                        .map(|t| (t, g.src_col((seg.ox0 + t) * g.stride + kj))),
                );
                let first = if lo < hi {
                    (seg.ox0 + lo) * g.stride + kj - g.pad
                } else {
                    0
                };
                spans.push(Span {
                    lo,
                    hi,
                    first,
                    border: (start, border.len()),
                });
            }
        }
        Self {
            segments,
            k: g.k,
            rows,
            spans,
            border,
        }
    }

    /// The stored input row that segment `seg` reads at kernel row `ki`; None in zero padding.
    pub fn row(&self, seg: usize, ki: usize) -> Option<usize> {
        self.rows[seg * self.k + ki]
    }

    /// How segment `seg` reads at kernel column `kj`.
    pub fn span(&self, seg: usize, kj: usize) -> &Span {
        &self.spans[seg * self.k + kj]
    }

    /// The positions of `span`'s segment outside its in-bounds run, with the stored column
    /// each reads (None for zero padding).
    pub fn border(&self, span: &Span) -> &[(usize, Option<usize>)] {
        &self.border[span.border.0..span.border.1]
    }
}

/// The output positions `t` in `0..cnt` (pixels `ox0 + t` of one output row) whose virtual
/// column `(ox0 + t)·stride + kj − pad` lies inside the upsampled input (not in the padding),
/// as `[lo, hi)`.
fn valid_span(g: &ConvGeom, ox0: usize, cnt: usize, kj: usize) -> (usize, usize) {
    let s = g.stride as isize;
    let first = g.pad as isize - kj as isize; // need (ox0 + t)·s >= first
    let lo = if first <= 0 {
        0
    } else {
        ((first + s - 1) / s - ox0 as isize).max(0)
    };
    let limit = (g.wv() + g.pad) as isize - kj as isize; // need (ox0 + t)·s < limit
    let hi = if limit <= 0 {
        0
    } else {
        (limit - 1) / s - ox0 as isize + 1
    };
    let lo = (lo as usize).min(cnt);
    let hi = hi.clamp(lo as isize, cnt as isize) as usize;
    (lo, hi)
}
