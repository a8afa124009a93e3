//! Strided f32 matrix products on one thread, through the `gemm` crate (the kernels candle's
//! own CPU matmul uses), with the bounds checked here.

/// A read-only strided matrix: element `(i, j)` is `data[i·rs + j·cs]`.
#[derive(Debug, Clone, Copy)]
pub struct Mat<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub rs: usize,
    pub cs: usize,
}

impl<'a> Mat<'a> {
    /// A row-major `rows × cols` matrix.
    pub fn rows(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }

    /// The transpose (no copy).
    pub fn t(self) -> Self {
        Self {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
        }
    }
}

/// Panics unless every element of a `rows × cols` matrix with strides `rs`, `cs` lies in `len`.
fn check_span(what: &str, len: usize, rows: usize, cols: usize, rs: usize, cs: usize) {
    if rows > 0 && cols > 0 {
        let last = (rows - 1) * rs + (cols - 1) * cs;
        assert!(last < len, "{what}: matrix extends past its buffer");
    }
}

/// `dst = a·b` (or `dst += a·b` when `accumulate`), `dst` row-major with row stride `dst_rs`.
///
/// # Safety
/// `dst` must be valid for writes at `i·dst_rs + j` for all `i < a.rows`, `j < b.cols`, and no
/// other thread may touch those elements during the call.
pub unsafe fn matmul_raw(dst: *mut f32, dst_rs: usize, a: Mat, b: Mat, accumulate: bool) {
    assert_eq!(a.cols, b.rows, "matmul: inner dimensions differ");
    check_span("matmul lhs", a.data.len(), a.rows, a.cols, a.rs, a.cs);
    check_span("matmul rhs", b.data.len(), b.rows, b.cols, b.rs, b.cs);
    if a.rows == 0 || b.cols == 0 {
        return;
    }
    if a.cols == 0 {
        if !accumulate {
            for i in 0..a.rows {
                std::ptr::write_bytes(dst.add(i * dst_rs), 0, b.cols);
            }
        }
        return;
    }
    gemm::gemm(
        a.rows,
        b.cols,
        a.cols,
        dst,
        1,
        dst_rs as isize,
        accumulate,
        a.data.as_ptr(),
        a.cs as isize,
        a.rs as isize,
        b.data.as_ptr(),
        b.cs as isize,
        b.rs as isize,
        1.0,
        1.0,
        false,
        false,
        false,
        gemm::Parallelism::None,
    );
}

/// `dst = a·b` (or `dst += a·b`), `dst` row-major `a.rows × b.cols` with row stride `dst_rs`.
pub fn matmul(dst: &mut [f32], dst_rs: usize, a: Mat, b: Mat, accumulate: bool) {
    check_span("matmul dst", dst.len(), a.rows, b.cols, dst_rs, 1);
    // SAFETY: the span check above keeps every write inside `dst`, which is borrowed mutably.
    unsafe { matmul_raw(dst.as_mut_ptr(), dst_rs, a, b, accumulate) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strided_products_match_the_definition() {
        let a: Vec<f32> = (0..12).map(|i| i as f32 - 5.0).collect(); // 3 x 4
        let b: Vec<f32> = (0..10).map(|i| (i * i) as f32 * 0.5).collect(); // 2 x 5, used as 5 x 2
        let (am, bm) = (Mat::rows(&a, 3, 4), Mat::rows(&b, 2, 5).t());
        let bm = Mat { rows: 4, ..bm }; // first four rows of the 5 x 2 transpose
        let mut dst = vec![1.0f32; 3 * 3]; // row stride 3, two columns used
        matmul(&mut dst, 3, am, bm, true);
        for i in 0..3 {
            for j in 0..2 {
                let e: f32 = (0..4).map(|l| a[i * 4 + l] * b[j * 5 + l]).sum::<f32>() + 1.0;
                assert_eq!(dst[i * 3 + j], e);
            }
            assert_eq!(
                dst[i * 3 + 2],
                1.0,
                "column outside the product was touched"
            );
        }
    }
}
