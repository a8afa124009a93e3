//! A sum over tasks split statically among the threads: each thread adds its own run of tasks
//! into its own buffer, and the buffers are added in thread order, so the result is the same
//! bits every run (resumed training depends on it). The kernel gradients use it.

use std::ops::Range;

use rayon::prelude::*;

/// The sum of `len` values over `tasks` tasks: `add(range, acc)` adds the tasks of `range`
/// into `acc` (zeros at first), once per thread with a contiguous run of the tasks.
pub fn sum_over_threads(
    tasks: usize,
    len: usize,
    add: impl Fn(Range<usize>, &mut [f32]) + Sync,
) -> Vec<f32> {
    let parts = rayon::current_num_threads().min(tasks).max(1);
    let partials: Vec<Vec<f32>> = (0..parts)
        .into_par_iter()
        .map(|part| {
            let mut acc = vec![0f32; len];
            add(part * tasks / parts..(part + 1) * tasks / parts, &mut acc);
            acc
        })
        .collect();
    let mut partials = partials.into_iter();
    let mut sum = partials.next().unwrap_or_else(|| vec![0f32; len]);
    for part in partials {
        for (s, v) in sum.iter_mut().zip(&part) {
            *s += *v;
        }
    }
    sum
}
