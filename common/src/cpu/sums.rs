//! Sums over long runs of f32 values for the CPU kernels' reductions: vectorised, with the
//! error of 1024-value f32 sums (each block's total is added in f64).

/// The sums of the `K` terms `f(a[i], b[i])` over `a` and `b` (zipped): 16 f32 lanes per term
/// over blocks of 1024 values (vectorised), each block's totals added in f64, so the error
/// stays that of 1024-value f32 sums.
pub fn blocked_sums<const K: usize>(
    a: &[f32],
    b: &[f32],
    f: impl Fn(f32, f32) -> [f32; K],
) -> [f64; K] {
    let mut total = [0f64; K];
    for (ab, bb) in a.chunks(1024).zip(b.chunks(1024)) {
        let mut lanes = [[0f32; 16]; K];
        let (ac, bc) = (ab.chunks_exact(16), bb.chunks_exact(16));
        let mut rest = [0f32; K];
        for (x, y) in ac.remainder().iter().zip(bc.remainder()) {
            for (r, t) in rest.iter_mut().zip(f(*x, *y)) {
                *r += t;
            }
        }
        for (xs, ys) in ac.zip(bc) {
            for i in 0..16 {
                let t = f(xs[i], ys[i]);
                for k in 0..K {
                    lanes[k][i] += t[k];
                }
            }
        }
        for k in 0..K {
            total[k] += lanes[k].iter().map(|l| *l as f64).sum::<f64>() + rest[k] as f64;
        }
    }
    total
}

/// Sum of `f(v)` over `x`, as [`blocked_sums`] computes it.
pub fn blocked_sum(x: &[f32], f: impl Fn(f32) -> f32) -> f64 {
    blocked_sums(x, x, |v, _| [f(v)])[0]
}
