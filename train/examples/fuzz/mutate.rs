//! Byte-level mutations of a seed input, as coverage-blind fuzzers do: bit flips, interesting
//! values over bytes and integers, deletions, insertions, repeats, truncation, splices from
//! another seed, and (for text) numbers replaced by edge cases. A `focus` range (a file's
//! header, say) gets most of the mutations.

use std::ops::Range;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const BYTES: [u8; 6] = [0, 1, 0x7f, 0x80, 0xfe, 0xff];
const INTS: [u64; 9] = [
    0,
    1,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    1 << 32,
    1 << 62,
    u64::MAX,
    4096,
];
const NUMBERS: [&str; 10] = [
    "0",
    "-1",
    "1e309",
    "nan",
    "inf",
    "-inf",
    "18446744073709551616",
    "4294967297",
    "0.0000001",
    "99999999",
];

/// A seeded source of mutated inputs.
pub struct Mutator {
    rng: ChaCha8Rng,
}

impl Mutator {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    /// A position in `len` bytes, inside `focus` most of the time.
    fn position(&mut self, len: usize, focus: &Option<Range<usize>>) -> usize {
        if len == 0 {
            return 0;
        }
        match focus {
            Some(r) if r.start < r.end.min(len) && self.rng.random_bool(0.8) => {
                self.rng.random_range(r.start..r.end.min(len))
            }
            _ => self.rng.random_range(0..len),
        }
    }

    /// One to eight mutations of `seed`; `other` is a seed to splice from.
    pub fn mutate(&mut self, seed: &[u8], other: &[u8], focus: &Option<Range<usize>>) -> Vec<u8> {
        let mut data = seed.to_vec();
        let rounds = self.rng.random_range(1..=8);
        for _ in 0..rounds {
            self.mutate_once(&mut data, other, focus);
        }
        data
    }

    fn mutate_once(&mut self, data: &mut Vec<u8>, other: &[u8], focus: &Option<Range<usize>>) {
        let len = data.len();
        let at = self.position(len, focus);
        match self.rng.random_range(0..9) {
            0 if len > 0 => data[at.min(len - 1)] ^= 1 << self.rng.random_range(0..8),
            1 if len > 0 => data[at.min(len - 1)] = BYTES[self.rng.random_range(0..BYTES.len())],
            2 => {
                let v = INTS[self.rng.random_range(0..INTS.len())];
                let bytes = if self.rng.random_bool(0.5) {
                    v.to_le_bytes()
                } else {
                    v.to_be_bytes()
                };
                let width = [1, 2, 4, 8][self.rng.random_range(0..4)];
                for (i, b) in bytes[..width].iter().enumerate() {
                    if let Some(d) = data.get_mut(at + i) {
                        *d = *b;
                    }
                }
            }
            3 if len > 0 => {
                let n = self.rng.random_range(1..=64.min(len - at.min(len - 1)));
                data.drain(at.min(len - 1)..(at + n).min(len));
            }
            4 => {
                let n = self.rng.random_range(1..=64);
                let junk: Vec<u8> = (0..n).map(|_| self.rng.random()).collect();
                data.splice(at..at, junk);
            }
            5 if len > 0 => {
                let n = self.rng.random_range(1..=256.min(len - at.min(len - 1)));
                let chunk = data[at.min(len - 1)..(at + n).min(len)].to_vec();
                let times = self.rng.random_range(1..=16);
                for _ in 0..times {
                    data.splice(at..at, chunk.iter().copied());
                }
            }
            6 => data.truncate(at),
            7 if !other.is_empty() => {
                let from = self.rng.random_range(0..other.len());
                let n = self.rng.random_range(1..=512.min(other.len() - from));
                let end = (at + n).min(data.len());
                data.splice(at..end, other[from..from + n].iter().copied());
            }
            _ => self.replace_number(data, at),
        }
    }

    /// Replaces the run of ASCII digits at or after `at` by an edge-case number.
    fn replace_number(&mut self, data: &mut Vec<u8>, at: usize) {
        let Some(start) = (at..data.len()).find(|&i| data[i].is_ascii_digit()) else {
            return;
        };
        let end = (start..data.len())
            .find(|&i| !data[i].is_ascii_digit() && data[i] != b'.')
            .unwrap_or(data.len());
        let n = NUMBERS[self.rng.random_range(0..NUMBERS.len())];
        data.splice(start..end, n.bytes());
    }
}
