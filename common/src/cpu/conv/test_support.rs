//! The direct-sum reference and test values shared by the CPU conv kernels' tests.

use super::geometry::{shape, ConvGeom, Reading};

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

/// The kernel gradient `[cout, cin·k²]` of `Σ dy·conv(x, w)` by the definition, in f64.
pub fn kernel_grad_reference(g: &ConvGeom, x: &[f32], dy: &[f32]) -> Vec<f64> {
    let mut dw = vec![0f64; g.cout * g.krows()];
    for (i, d) in dw.iter_mut().enumerate() {
        let (o, c, ki, kj) = (
            i / g.krows(),
            i / (g.k * g.k) % g.cin,
            i / g.k % g.k,
            i % g.k,
        );
        for b in 0..g.batch {
            for oy in 0..g.ho {
                let Some(iy) = g.src_row(oy * g.stride + ki) else {
                    continue;
                };
                for ox in 0..g.wo {
                    if let Some(ix) = g.src_col(ox * g.stride + kj) {
                        let xv = x[((b * g.cin + c) * g.h + iy) * g.w + ix] as f64;
                        *d += xv * dy[((b * g.cout + o) * g.ho + oy) * g.wo + ox] as f64;
                    }
                }
            }
        }
    }
    dw
}

pub fn values(n: usize, seed: f32) -> Vec<f32> {
    (0..n).map(|i| ((i as f32 + seed) * 0.7391).sin()).collect()
}

pub fn rel(a: &[f32], e: &[f64]) -> f64 {
    let num: f64 = a.iter().zip(e).map(|(a, e)| (*a as f64 - e).powi(2)).sum();
    let den: f64 = e.iter().map(|e| e * e).sum();
    (num / den).sqrt()
}

/// Geometries the Winograd tests run through (it is correct at every size; `applies` only
/// picks where it is faster): odd and even output sides, several bands and images, zero and
/// reflection padding, upsampling, and padding 0 and 2 (the adjoint of a padded conv has 2).
pub fn winograd_cases() -> Vec<ConvGeom> {
    let reading = |pad, reflect, up| Reading { pad, reflect, up };
    [
        (shape(2, 16, 9, 11, 16, 3), reading(1, true, 1)),
        (shape(1, 17, 12, 10, 20, 3), reading(1, false, 1)),
        (shape(2, 16, 5, 7, 18, 3), reading(1, true, 2)),
        (shape(2, 16, 8, 6, 16, 3), reading(0, false, 1)),
        (shape(1, 16, 6, 9, 16, 3), reading(2, false, 1)),
        (shape(1, 16, 40, 70, 16, 3), reading(1, true, 1)),
        (shape(5, 16, 34, 38, 24, 3), reading(1, true, 1)),
        (shape(1, 32, 66, 70, 24, 3), reading(1, true, 1)),
    ]
    .into_iter()
    .map(|(s, r)| ConvGeom::resampled(s, 1, r).expect("a valid test geometry"))
    .collect()
}
