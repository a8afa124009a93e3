//! Training photos: found recursively in a folder, shuffled per epoch from the seed, decoded and
//! cropped on worker threads ahead of the training step, and assembled into batches. Unreadable
//! files are skipped, counted and reported, never fatal.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use image::imageops::FilterType;
use image::DynamicImage;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

/// All image files under `dir` (by extension, recursively), sorted so that the order, and so
/// the shuffle, is the same on every machine. A missing or empty folder is an error.
pub fn list_images(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        bail!(
            "data folder {} does not exist\n\nhint: point --data-dir at a folder of photos (e.g. COCO's train2014/), or run scripts/fetch-photos.sh for sample photos",
            dir.display()
        );
    }
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir).follow_links(true) {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        if entry.file_type().is_file() && fauve::has_image_extension(entry.path()) {
            files.push(entry.into_path());
        }
    }
    if files.is_empty() {
        bail!(
            "data folder {} has no image files ({})",
            dir.display(),
            fauve::IMAGE_EXTENSIONS.join(", ")
        );
    }
    files.sort();
    Ok(files)
}

/// Identifies the photo set: the number of files and a SHA-256 of their paths (relative to
/// `dir`) and sizes, in sorted order. Stored in checkpoints so that a resume can tell that the
/// folder changed, which would change the data order.
pub fn data_fingerprint(dir: &Path, files: &[PathBuf]) -> Result<String> {
    let mut hash = Sha256::new();
    for f in files {
        let size = std::fs::metadata(f)
            .with_context(|| format!("cannot read {}", f.display()))?
            .len();
        let rel = f.strip_prefix(dir).unwrap_or(f);
        hash.update(format!("{}\t{size}\n", rel.display()).as_bytes());
    }
    Ok(format!("{}:{:x}", files.len(), hash.finalize()))
}

/// The order in which epoch `epoch` visits `n` photos: a permutation fixed by the seed.
pub fn epoch_order(n: usize, seed: u64, epoch: usize) -> Vec<u32> {
    let mut order: Vec<u32> = (0..n as u32).collect();
    let mut rng =
        ChaCha8Rng::seed_from_u64(seed ^ (epoch as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    order.shuffle(&mut rng);
    order
}

/// Resizes the shorter side to `size` and crops a `size`x`size` square (centred, or at an
/// offset drawn from `rng`), returning CHW RGB floats in 0..255.
pub fn crop_photo(img: &DynamicImage, size: usize, rng: Option<&mut ChaCha8Rng>) -> Vec<f32> {
    let (w, h) = (img.width() as f64, img.height() as f64);
    let scale = size as f64 / w.min(h);
    let nw = ((w * scale).round() as u32).max(size as u32);
    let nh = ((h * scale).round() as u32).max(size as u32);
    let resized = img.resize_exact(nw, nh, FilterType::Triangle);
    let (max_x, max_y) = (nw - size as u32, nh - size as u32);
    let (x0, y0) = match rng {
        Some(rng) => (rng.random_range(0..=max_x), rng.random_range(0..=max_y)),
        None => (max_x / 2, max_y / 2),
    };
    let rgb = fauve::to_rgb(&resized.crop_imm(x0, y0, size as u32, size as u32));
    let plane = size * size;
    let mut out = vec![0f32; 3 * plane];
    for (i, px) in rgb.pixels().enumerate() {
        for c in 0..3 {
            out[c * plane + i] = px.0[c] as f32;
        }
    }
    out
}

/// Where the data stream stands: the next photo to read is `order(epoch)[position]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DataPosition {
    pub epoch: usize,
    pub position: usize,
}

/// One batch of cropped photos, `[B, 3, S, S]` in 0..255, and where the stream stands after it.
pub struct Batch {
    pub data: Vec<f32>,
    pub batch_size: usize,
    pub image_size: usize,
    pub after: DataPosition,
    /// Files that failed to decode for the first time while filling this batch, with the
    /// reason.
    pub skipped: Vec<(PathBuf, String)>,
    /// Indices of every file known to be unreadable so far (for checkpoints).
    pub bad_files: BTreeSet<usize>,
    /// Wall time spent decoding and cropping this batch.
    pub decode_secs: f64,
}

/// Settings of the loader.
#[derive(Debug, Clone)]
pub struct LoaderConfig {
    pub batch_size: usize,
    pub image_size: usize,
    pub seed: u64,
    pub random_crop: bool,
    pub workers: usize,
    pub prefetch: usize,
}

/// Decodes batches on a background thread (its own pool of `workers` threads), `prefetch`
/// batches ahead of the consumer.
pub struct BatchLoader {
    rx: Receiver<Result<Batch>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl BatchLoader {
    /// Starts reading `files` at `start`; `bad_files` (indices) are known to be unreadable
    /// and are passed over without another warning.
    pub fn start(
        files: Vec<PathBuf>,
        cfg: LoaderConfig,
        start: DataPosition,
        bad_files: BTreeSet<usize>,
    ) -> Result<Self> {
        let (tx, rx) = sync_channel(cfg.prefetch);
        let stop = Arc::new(AtomicBool::new(false));
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(cfg.workers)
            .thread_name(|i| format!("decode-{i}"))
            .build()
            .context("cannot start decoding threads")?;
        let stop_flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("batch-loader".into())
            .spawn(move || {
                let mut stream = Stream::new(files, cfg, start, bad_files);
                while !stop_flag.load(Ordering::Relaxed) {
                    let batch = pool.install(|| stream.next_batch());
                    let failed = batch.is_err();
                    if tx.send(batch).is_err() || failed {
                        break;
                    }
                }
            })
            .context("cannot start the batch loader thread")?;
        Ok(Self {
            rx,
            stop,
            handle: Some(handle),
        })
    }

    /// The next batch; blocks until it is decoded.
    pub fn next_batch(&self) -> Result<Batch> {
        self.rx
            .recv()
            .context("the batch loader stopped unexpectedly")?
    }
}

impl Drop for BatchLoader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Draining unblocks a producer waiting on a full channel; it then sees the flag and
        // exits, which disconnects the channel.
        while self.rx.recv().is_ok() {}
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// The deterministic sequence of photos across epochs.
struct Stream {
    files: Vec<PathBuf>,
    cfg: LoaderConfig,
    pos: DataPosition,
    order: Vec<u32>,
    bad: BTreeSet<usize>,
}

impl Stream {
    fn new(
        files: Vec<PathBuf>,
        cfg: LoaderConfig,
        pos: DataPosition,
        bad: BTreeSet<usize>,
    ) -> Self {
        let order = epoch_order(files.len(), cfg.seed, pos.epoch);
        Self {
            files,
            cfg,
            pos,
            order,
            bad,
        }
    }

    /// The next `k` photo slots: (file index, epoch, position) each, advancing the stream.
    fn take(&mut self, k: usize) -> Vec<(usize, DataPosition)> {
        let mut out = Vec::with_capacity(k);
        for _ in 0..k {
            if self.pos.position >= self.files.len() {
                self.pos = DataPosition {
                    epoch: self.pos.epoch + 1,
                    position: 0,
                };
                self.order = epoch_order(self.files.len(), self.cfg.seed, self.pos.epoch);
            }
            out.push((self.order[self.pos.position] as usize, self.pos));
            self.pos.position += 1;
        }
        out
    }

    fn decode(&self, file: usize, at: DataPosition) -> Result<Vec<f32>, String> {
        let path = &self.files[file];
        let img = fauve::load_image(path).map_err(|e| e.to_string())?;
        if img.width() < 2 || img.height() < 2 {
            return Err(format!("{}: image too small", path.display()));
        }
        let mut rng = self.cfg.random_crop.then(|| {
            let mix = (at.epoch as u64) << 32 ^ at.position as u64;
            ChaCha8Rng::seed_from_u64(
                self.cfg
                    .seed
                    .wrapping_add(mix.wrapping_mul(0x2545_f491_4f6c_dd1d)),
            )
        });
        Ok(crop_photo(&img, self.cfg.image_size, rng.as_mut()))
    }

    fn next_batch(&mut self) -> Result<Batch> {
        let start = Instant::now();
        let b = self.cfg.batch_size;
        let mut data = Vec::with_capacity(b * 3 * self.cfg.image_size.pow(2));
        let mut filled = 0;
        let mut skipped = Vec::new();
        while filled < b {
            if self.bad.len() >= self.files.len() {
                bail!(
                    "none of the {} files in the data folder could be decoded",
                    self.files.len()
                );
            }
            let mut slots = self.take(b - filled);
            slots.retain(|(file, _)| !self.bad.contains(file));
            let decoded: Vec<_> = slots
                .par_iter()
                .map(|&(file, at)| self.decode(file, at))
                .collect();
            for ((file, _), result) in slots.iter().zip(decoded) {
                match result {
                    Ok(pixels) => {
                        data.extend_from_slice(&pixels);
                        filled += 1;
                    }
                    Err(e) => {
                        self.bad.insert(*file);
                        skipped.push((self.files[*file].clone(), e));
                    }
                }
            }
        }
        Ok(Batch {
            data,
            batch_size: b,
            image_size: self.cfg.image_size,
            after: self.pos,
            skipped,
            bad_files: self.bad.clone(),
            decode_secs: start.elapsed().as_secs_f64(),
        })
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
    fn centre_crop_of_a_wide_image() {
        // 8x4 image whose x coordinate is its red value; shorter side 4 -> already size 4.
        let img = image::RgbImage::from_fn(8, 4, |x, _| image::Rgb([x as u8 * 10, 0, 0]));
        let out = crop_photo(&DynamicImage::ImageRgb8(img), 4, None);
        assert_eq!(out.len(), 3 * 16);
        // Centre crop starts at x = 2.
        assert_eq!(&out[0..4], &[20.0, 30.0, 40.0, 50.0]);
    }

    #[test]
    fn random_crops_are_seeded_and_stay_inside_the_image() {
        let img = image::RgbImage::from_fn(40, 8, |x, _| image::Rgb([x as u8 * 5, 0, 0]));
        let img = DynamicImage::ImageRgb8(img);
        let crop = |seed| crop_photo(&img, 8, Some(&mut ChaCha8Rng::seed_from_u64(seed)));
        assert_eq!(crop(1), crop(1));
        let offsets: std::collections::BTreeSet<u32> =
            (0..20).map(|s| crop(s)[0] as u32 / 5).collect();
        assert!(offsets.len() > 3, "crops vary: {offsets:?}");
        assert!(offsets.iter().all(|&x| x <= 32), "{offsets:?}");
    }

    #[test]
    fn the_fingerprint_changes_with_the_file_set_and_sizes_only() -> Result<()> {
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join("a.jpg"), b"aaa")?;
        std::fs::write(dir.path().join("b.jpg"), b"bb")?;
        let print = || data_fingerprint(dir.path(), &list_images(dir.path())?);
        let first = print()?;
        assert!(first.starts_with("2:"), "{first}");
        assert_eq!(print()?, first, "stable");
        std::fs::write(dir.path().join("b.jpg"), b"bbbb")?;
        let resized = print()?;
        assert_ne!(resized, first);
        std::fs::write(dir.path().join("c.png"), b"c")?;
        assert!(print()?.starts_with("3:"));
        // Moving the whole folder keeps it: paths count relative to the folder.
        let moved = tempfile::tempdir()?;
        std::fs::remove_file(dir.path().join("c.png"))?;
        for f in ["a.jpg", "b.jpg"] {
            std::fs::copy(dir.path().join(f), moved.path().join(f))?;
        }
        assert_eq!(
            data_fingerprint(moved.path(), &list_images(moved.path())?)?,
            resized
        );
        Ok(())
    }

    #[test]
    fn missing_and_empty_folders_are_errors() {
        let err = list_images(Path::new("/no/such/photos"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not exist"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("readme.txt"), "x").unwrap();
        let err = list_images(dir.path()).unwrap_err().to_string();
        assert!(err.contains("no image files"), "{err}");
    }
}
