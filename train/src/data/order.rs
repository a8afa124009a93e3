//! The order in which an epoch visits the photo set, fixed by the seed and the epoch number so
//! that a resumed run reads the same photos as an uninterrupted one.
//!
//! A set of image files is visited in a full permutation: any file can be read on its own.
//! Photos in parquet shards can only be read a row group at a time, so a set with shards is
//! shuffled in two levels, as streaming loaders do: the row groups (and files) are permuted,
//! cut into windows of about [`SHUFFLE_WINDOW`] photos, and the photos are permuted within each
//! window. The loader then holds one window's row groups in memory, never a whole shard.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::photo_set::PhotoSet;

/// Photos per shuffle window of a set with parquet shards. Changing it changes the order of
/// such sets, and so resumes across the change.
pub const SHUFFLE_WINDOW: usize = 1024;

/// The order in which epoch `epoch` visits `n` photos: a permutation fixed by the seed.
pub fn epoch_order(n: usize, seed: u64, epoch: usize) -> Vec<u32> {
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.shuffle(&mut epoch_rng(seed, epoch, 0));
    order
}

/// The generator of an epoch's shuffle; `stream` separates the full permutation from the
/// windowed one.
fn epoch_rng(seed: u64, epoch: usize, stream: u64) -> ChaCha8Rng {
    let mut rng =
        ChaCha8Rng::seed_from_u64(seed ^ (epoch as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    rng.set_stream(stream);
    rng
}

/// One epoch's visiting order, cut into shuffle windows.
pub struct EpochPlan {
    /// Photo numbers in visiting order.
    pub order: Vec<u32>,
    /// Position at which each window starts (the first is 0).
    window_starts: Vec<usize>,
    /// The row-group sources each window reads (empty for image files).
    window_sources: Vec<Vec<usize>>,
}

impl EpochPlan {
    /// The plan of epoch `epoch` over `set`.
    pub fn new(set: &PhotoSet, seed: u64, epoch: usize) -> Self {
        if !set.has_row_groups() {
            return Self {
                order: epoch_order(set.photos(), seed, epoch),
                window_starts: vec![0],
                window_sources: vec![Vec::new()],
            };
        }
        let mut rng = epoch_rng(seed, epoch, 1);
        let mut sources: Vec<usize> = (0..set.sources()).collect();
        sources.shuffle(&mut rng);
        let mut plan = Self {
            order: Vec::with_capacity(set.photos()),
            window_starts: Vec::new(),
            window_sources: Vec::new(),
        };
        let mut window: Vec<u32> = Vec::new();
        let mut reads = Vec::new();
        for (i, &source) in sources.iter().enumerate() {
            let items = set.items_of(source);
            window.extend(items.start as u32..items.end as u32);
            if set.is_row_group(source) {
                reads.push(source);
            }
            if window.len() >= SHUFFLE_WINDOW || i + 1 == sources.len() {
                window.shuffle(&mut rng);
                plan.window_starts.push(plan.order.len());
                plan.order.append(&mut window);
                plan.window_sources.push(std::mem::take(&mut reads));
            }
        }
        plan
    }

    /// The window that holds position `position`.
    pub fn window_of(&self, position: usize) -> usize {
        self.window_starts.partition_point(|&s| s <= position) - 1
    }

    /// The row groups window `window` reads.
    pub fn sources(&self, window: usize) -> &[usize] {
        &self.window_sources[window]
    }

    /// How many windows the epoch has.
    #[cfg(test)]
    pub fn windows(&self) -> usize {
        self.window_starts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_orders_are_permutations_fixed_by_seed_and_epoch() {
        let a = epoch_order(50, 7, 0);
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..50).collect::<Vec<u32>>());
        assert_eq!(a, epoch_order(50, 7, 0));
        assert_ne!(a, epoch_order(50, 7, 1));
        assert_ne!(a, epoch_order(50, 8, 0));
    }

    #[test]
    fn the_order_of_image_files_did_not_change() {
        // Checkpoints store a position in this order: it must stay what older runs used.
        assert_eq!(epoch_order(8, 42, 0), [7, 1, 5, 4, 6, 0, 3, 2]);
        assert_eq!(epoch_order(8, 42, 3), [5, 7, 2, 6, 3, 1, 0, 4]);
    }

    #[test]
    fn a_set_of_files_gets_the_full_permutation() {
        let set = PhotoSet::from_sizes(&[1; 9]);
        let plan = EpochPlan::new(&set, 3, 2);
        assert_eq!(plan.order, epoch_order(9, 3, 2));
        assert_eq!(plan.windows(), 1);
        assert!(plan.sources(0).is_empty());
    }

    #[test]
    fn windows_are_whole_row_groups_shuffled_inside() {
        // 40 row groups of 100 photos and 30 files: windows of >= 1024 photos.
        let sizes: Vec<usize> = (0..70).map(|i| if i % 7 == 3 { 1 } else { 100 }).collect();
        let sizes = &sizes[..];
        let set = PhotoSet::from_sizes(sizes);
        let plan = EpochPlan::new(&set, 11, 0);
        let mut sorted = plan.order.clone();
        sorted.sort();
        assert_eq!(
            sorted,
            (0..set.photos() as u32).collect::<Vec<_>>(),
            "a permutation"
        );
        assert!(plan.windows() > 3, "{}", plan.windows());
        let mut read = vec![0; set.sources()];
        for w in 0..plan.windows() {
            let start = plan.window_starts[w];
            let end = plan
                .window_starts
                .get(w + 1)
                .copied()
                .unwrap_or(set.photos());
            assert!(end - start >= SHUFFLE_WINDOW || w + 1 == plan.windows());
            // Every photo of the window comes from a source the window reads (or a file).
            for p in start..end {
                let (source, _) = set.locate(plan.order[p] as usize);
                assert!(
                    !set.is_row_group(source) || plan.sources(w).contains(&source),
                    "photo at {p} from source {source} outside window {w}"
                );
                assert_eq!(plan.window_of(p), w);
            }
            for &s in plan.sources(w) {
                read[s] += 1;
            }
        }
        for (s, &n) in read.iter().enumerate() {
            assert_eq!(
                n,
                usize::from(set.is_row_group(s)),
                "source {s} read {n} times"
            );
        }
        // Shuffled inside a window: consecutive photos rarely share a row group.
        let same = plan
            .order
            .windows(2)
            .filter(|p| set.locate(p[0] as usize).0 == set.locate(p[1] as usize).0)
            .count();
        assert!(
            same < set.photos() / 5,
            "{same} neighbours share a row group"
        );
        // Fixed by seed and epoch, different across both.
        assert_eq!(plan.order, EpochPlan::new(&set, 11, 0).order);
        assert_ne!(plan.order, EpochPlan::new(&set, 11, 1).order);
        assert_ne!(plan.order, EpochPlan::new(&set, 12, 0).order);
    }
}
