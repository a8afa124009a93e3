//! Each thread's Winograd scratch buffers, kept from one conv to the next.

use std::cell::RefCell;

use super::layout::Layout;
use crate::cpu::conv::geometry::ConvGeom;

/// Each task's scratch: the transformed input `V` (`[16][cin][n]`), the products `M`
/// (`[16][cout][n]`), the padded input rows of one channel (even columns, then odd ones), their
/// vertical transform, and the inverse transform's rows.
#[derive(Default)]
pub(super) struct Buffers {
    pub(super) v: Vec<f32>,
    pub(super) m: Vec<f32>,
    pub(super) rows: Vec<f32>,
    pub(super) t: Vec<f32>,
    pub(super) out: Vec<f32>,
}

thread_local! {
    /// Each thread's scratch, kept from one conv to the next: fresh megabyte buffers for every
    /// call cost page faults and zero-filling, which made Winograd 2x slower than im2col on
    /// 32x32 layers.
    pub(super) static SCRATCH: RefCell<Buffers> = RefCell::new(Buffers::default());
}

impl Buffers {
    /// Grows the buffers to what a task of `g` needs (they never shrink).
    pub(super) fn fit(&mut self, g: &ConvGeom, lay: &Layout, block: usize) {
        let wp = 2 * lay.tiles_x + 2;
        let grow = |v: &mut Vec<f32>, len: usize| {
            if v.len() < len {
                v.resize(len, 0.0);
            }
        };
        grow(&mut self.v, 16 * g.cin * block);
        grow(&mut self.m, 16 * g.cout * block);
        grow(&mut self.rows, (2 * lay.band + 2) * wp);
        grow(&mut self.t, 4 * wp);
        grow(&mut self.out, 14 * lay.tiles_x);
    }
}
