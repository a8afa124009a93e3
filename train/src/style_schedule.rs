//! Which painting each step of a multi-style run trains. A pure function of the step, so a
//! resumed run trains the same styles at the same steps as an uninterrupted one.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::StyleOrder;

/// The style (0..`n`) that step `step` (counting from 0) trains.
pub fn style_at(order: StyleOrder, seed: u64, step: usize, n: usize) -> usize {
    if n <= 1 {
        return 0;
    }
    match order {
        StyleOrder::RoundRobin => step % n,
        StyleOrder::Random => {
            // One generator per step, seeded from the run's seed and the step.
            let mixed = seed ^ (step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            ChaCha8Rng::seed_from_u64(mixed).random_range(0..n)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_takes_turns_and_random_is_a_function_of_the_step() {
        let rr: Vec<usize> = (0..6)
            .map(|s| style_at(StyleOrder::RoundRobin, 1, s, 3))
            .collect();
        assert_eq!(rr, [0, 1, 2, 0, 1, 2]);
        let draw = |seed| -> Vec<usize> {
            (0..400)
                .map(|s| style_at(StyleOrder::Random, seed, s, 4))
                .collect()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        // Every style gets a fair share (400 draws of 4: 100 expected each).
        for k in 0..4 {
            let count = draw(7).iter().filter(|&&s| s == k).count();
            assert!((60..140).contains(&count), "style {k}: {count}");
        }
        assert_eq!(style_at(StyleOrder::Random, 7, 3, 1), 0);
    }
}
