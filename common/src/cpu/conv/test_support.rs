//! The direct-sum reference and test values shared by the CPU conv kernels' tests.

use super::geometry::ConvGeom;

/// Direct sums by the definition, in f64.
pub fn reference(g: &ConvGeom, x: &[f32], w: &[f32]) -> Vec<f64> {
    let mut y = vec![0f64; g.batch * g.cout * g.out_plane()];
    for b in 0..g.batch {
        for o in 0..g.cout {
            for oy in 0..g.ho {
                for ox in 0..g.wo {
                    let mut s = 0f64;
                    for c in 0..g.cin {
                        for ki in 0..g.k {
                            for kj in 0..g.k {
                                let iy = g.src_row(oy * g.stride + ki);
                                let ix = g.src_col(ox * g.stride + kj);
                                if let (Some(iy), Some(ix)) = (iy, ix) {
                                    let xv = x[((b * g.cin + c) * g.h + iy) * g.w + ix];
                                    let wv = w[((o * g.cin + c) * g.k + ki) * g.k + kj];
                                    s += xv as f64 * wv as f64;
                                }
                            }
                        }
                    }
                    y[((b * g.cout + o) * g.ho + oy) * g.wo + ox] = s;
                }
            }
        }
    }
    y
}

pub fn values(n: usize, seed: f32) -> Vec<f32> {
    (0..n).map(|i| ((i as f32 + seed) * 0.7391).sin()).collect()
}

pub fn rel(a: &[f32], e: &[f64]) -> f64 {
    let num: f64 = a.iter().zip(e).map(|(a, e)| (*a as f64 - e).powi(2)).sum();
    let den: f64 = e.iter().map(|e| e * e).sum();
    (num / den).sqrt()
}
