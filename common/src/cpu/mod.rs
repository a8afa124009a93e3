//! The project's CPU kernels (f32, on rayon's threads), one file or folder per op of
//! [`crate::ops`], named like the op; `slice` lends their storage as plain slices.

pub(crate) mod conv;
pub(crate) mod gather;
pub(crate) mod gram;
pub(crate) mod instance_norm;
pub(crate) mod matmul;
pub(crate) mod max_pool;
pub(crate) mod slice;
pub(crate) mod sums;
