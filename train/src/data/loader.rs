//! The data stream: photos in the epoch's order, decoded and cropped on worker threads ahead of
//! the training step, and assembled into batches. Unreadable photos (files, shard rows, whole
//! row groups) are skipped, counted and reported once, never fatal.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::crop::crop_photo;
use super::order::EpochPlan;
use super::photo_set::PhotoSet;
use super::row_images::RowImages;

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
    /// Photos (or whole row groups) that failed to read for the first time while filling this
    /// batch: how to name them, and why.
    pub skipped: Vec<(String, String)>,
    /// Numbers of every photo known to be unreadable so far (for checkpoints).
    pub bad_files: BTreeSet<usize>,
    /// Wall time spent reading, decoding and cropping this batch.
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
    /// Starts reading `set` at `start`; `bad_files` (photo numbers) are known to be unreadable
    /// and are passed over without another warning.
    pub fn start(
        set: Arc<PhotoSet>,
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
                let mut stream = Stream::new(set, cfg, start, bad_files);
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

/// A shuffle window of one epoch, which names the row groups held in memory for it.
type WindowKey = (usize, usize);

/// One photo to fill: its number, where the stream stood, and its window.
#[derive(Clone, Copy)]
struct Slot {
    item: usize,
    at: DataPosition,
    window: WindowKey,
}

/// The deterministic sequence of photos across epochs.
struct Stream {
    set: Arc<PhotoSet>,
    cfg: LoaderConfig,
    pos: DataPosition,
    plan: EpochPlan,
    bad: BTreeSet<usize>,
    /// The windows whose row groups are held, with the sources each reads.
    windows: BTreeMap<WindowKey, Vec<usize>>,
    /// The encoded images of the row groups held, by source.
    rows: HashMap<usize, Arc<RowImages>>,
}

impl Stream {
    fn new(set: Arc<PhotoSet>, cfg: LoaderConfig, pos: DataPosition, bad: BTreeSet<usize>) -> Self {
        let plan = EpochPlan::new(&set, cfg.seed, pos.epoch);
        Self {
            set,
            cfg,
            pos,
            plan,
            bad,
            windows: BTreeMap::new(),
            rows: HashMap::new(),
        }
    }

    /// The next `k` photo slots, advancing the stream, and the windows they need that are not
    /// held yet, with the row groups each reads.
    fn take(&mut self, k: usize) -> (Vec<Slot>, Vec<(WindowKey, Vec<usize>)>) {
        let mut out = Vec::with_capacity(k);
        let mut new_windows: Vec<(WindowKey, Vec<usize>)> = Vec::new();
        for _ in 0..k {
            if self.pos.position >= self.set.photos() {
                self.pos = DataPosition {
                    epoch: self.pos.epoch + 1,
                    position: 0,
                };
                self.plan = EpochPlan::new(&self.set, self.cfg.seed, self.pos.epoch);
            }
            let w = self.plan.window_of(self.pos.position);
            let window = (self.pos.epoch, w);
            if !self.windows.contains_key(&window) && !new_windows.iter().any(|(k, _)| *k == window)
            {
                new_windows.push((window, self.plan.sources(w).to_vec()));
            }
            out.push(Slot {
                item: self.plan.order[self.pos.position] as usize,
                at: self.pos,
                window,
            });
            self.pos.position += 1;
        }
        (out, new_windows)
    }

    /// Lets go of windows before `oldest` and reads the row groups of `new` in parallel. A row
    /// group that cannot be read makes all its photos bad, reported once.
    fn hold(
        &mut self,
        oldest: WindowKey,
        new: Vec<(WindowKey, Vec<usize>)>,
        skipped: &mut Vec<(String, String)>,
    ) {
        self.windows.retain(|k, _| *k >= oldest);
        let wanted: BTreeSet<usize> = self
            .windows
            .values()
            .chain(new.iter().map(|(_, s)| s))
            .flatten()
            .copied()
            .collect();
        self.rows.retain(|s, _| wanted.contains(s));
        let to_read: Vec<usize> = wanted
            .into_iter()
            .filter(|s| !self.rows.contains_key(s))
            .filter(|&s| self.set.items_of(s).any(|i| !self.bad.contains(&i)))
            .collect();
        let set = &self.set;
        let read: Vec<_> = to_read
            .par_iter()
            .map(|&s| (s, set.read_group(s)))
            .collect();
        for (source, result) in read {
            match result {
                Ok(images) => {
                    self.rows.insert(source, Arc::new(images));
                }
                Err(why) => {
                    let items = self.set.items_of(source);
                    skipped.push((describe_group(&self.set, source), why));
                    self.bad.extend(items);
                }
            }
        }
        self.windows.extend(new);
    }

    fn decode(&self, slot: Slot) -> Result<Vec<f32>, String> {
        let (source, _) = self.set.locate(slot.item);
        let rows = self.rows.get(&source).map(|r| r.as_ref());
        let img = self.set.decode(slot.item, rows)?;
        if img.width() < 2 || img.height() < 2 {
            return Err("image too small".into());
        }
        let mut rng = self.cfg.random_crop.then(|| {
            let mix = (slot.at.epoch as u64) << 32 ^ slot.at.position as u64;
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
            if self.bad.len() >= self.set.photos() {
                bail!(
                    "none of the {} photos in the data set could be decoded",
                    self.set.photos()
                );
            }
            let (mut slots, new_windows) = self.take(b - filled);
            let oldest = slots.first().map_or((0, 0), |s| s.window);
            self.hold(oldest, new_windows, &mut skipped);
            slots.retain(|s| !self.bad.contains(&s.item));
            let decoded: Vec<_> = slots.par_iter().map(|&s| self.decode(s)).collect();
            for (slot, result) in slots.iter().zip(decoded) {
                match result {
                    Ok(pixels) => {
                        data.extend_from_slice(&pixels);
                        filled += 1;
                    }
                    Err(e) => {
                        self.bad.insert(slot.item);
                        skipped.push((self.set.name(slot.item), e));
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

/// How a warning names a whole row group.
fn describe_group(set: &PhotoSet, s: usize) -> String {
    let items = set.items_of(s);
    let first = set.name(items.start);
    if items.len() == 1 {
        return format!("{first} (a whole row group)");
    }
    let last = set.name(items.end - 1);
    let last_row = last.rsplit(' ').next().unwrap_or_default();
    format!("{first}–{last_row} (a whole row group)")
}

#[cfg(all(test, feature = "parquet"))]
mod tests {
    use super::*;
    use crate::data::shard_writer::{id_column, image_column, write_shard};
    use std::path::Path;

    /// A PNG whose every pixel has red `red`, so a crop names its photo.
    fn png(red: u8) -> Vec<u8> {
        let img = image::RgbImage::from_pixel(12, 10, image::Rgb([red, 7, 9]));
        let mut out = std::io::Cursor::new(Vec::new());
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut out, image::ImageFormat::Png)
            .expect("png");
        out.into_inner()
    }

    /// A folder with shard a (9 rows: row 3 garbage, row 6 null), shard b (4 rows), a photo
    /// file, a truncated shard and a shard without images. Good photos have red 10 * i + 5.
    fn folder(dir: &Path) -> anyhow::Result<()> {
        let a: Vec<_> = (0..9)
            .map(|i| match i {
                3 => Some(b"not an image".to_vec()),
                6 => None,
                _ => Some(png(10 * i + 5)),
            })
            .collect();
        write_shard(
            &dir.join("a.parquet"),
            vec![("id", id_column(9)), ("image", image_column(&a))],
            4,
        )?;
        let b: Vec<_> = (9..13).map(|i| Some(png(10 * i + 5))).collect();
        write_shard(&dir.join("b.parquet"), vec![("image", image_column(&b))], 3)?;
        std::fs::write(dir.join("c.png"), png(135))?;
        write_shard(&dir.join("d.parquet"), vec![("image", image_column(&b))], 2)?;
        let d = std::fs::read(dir.join("d.parquet"))?;
        std::fs::write(dir.join("d.parquet"), &d[..d.len() - 20])?;
        write_shard(&dir.join("meta.parquet"), vec![("id", id_column(3))], 2)?;
        Ok(())
    }

    fn config() -> LoaderConfig {
        LoaderConfig {
            batch_size: 3,
            image_size: 8,
            seed: 5,
            random_crop: true,
            workers: 2,
            prefetch: 1,
        }
    }

    /// The photos (by red value) of a batch.
    fn reds(batch: &Batch) -> Vec<u8> {
        let per = 3 * batch.image_size.pow(2);
        batch.data.chunks(per).map(|p| p[0] as u8).collect()
    }

    #[test]
    fn shards_stream_every_good_row_once_per_epoch_and_skip_bad_ones() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        folder(dir.path())?;
        let set = Arc::new(PhotoSet::from_folder(dir.path(), None)?);
        assert_eq!(set.photos(), 9 + 4 + 1);
        let skipped: Vec<String> = set
            .skipped_shards
            .iter()
            .map(|(p, why)| format!("{}: {why}", p.display()))
            .collect();
        assert_eq!(skipped.len(), 2, "{skipped:?}");
        assert!(skipped[0].contains("d.parquet") && skipped[0].contains("truncated"));
        assert!(skipped[1].contains("meta.parquet") && skipped[1].contains("no image column"));

        let mut stream = Stream::new(
            set.clone(),
            config(),
            DataPosition::default(),
            BTreeSet::new(),
        );
        let mut seen = Vec::new();
        let mut warnings = Vec::new();
        // 12 good photos: 8 batches of 3 are exactly two epochs.
        for _ in 0..8 {
            let batch = stream.next_batch()?;
            seen.extend(reds(&batch));
            warnings.extend(
                batch
                    .skipped
                    .iter()
                    .map(|(name, why)| format!("{name}: {why}")),
            );
        }
        let good: Vec<u8> = (0..14u8)
            .filter(|i| ![3, 6].contains(i))
            .map(|i| 10 * i + 5)
            .collect();
        for epoch in seen.chunks(12) {
            let mut e = epoch.to_vec();
            e.sort();
            assert_eq!(e, good, "each good photo once per epoch");
        }
        assert_ne!(seen[..12], seen[12..], "epochs are shuffled differently");
        // Each bad row is named by shard and row, once.
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("a.parquet row 3") && w.contains("cannot decode")),
            "{warnings:?}"
        );
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("a.parquet row 6") && w.contains("null")),
            "{warnings:?}"
        );
        assert_eq!(stream.bad, BTreeSet::from([3, 6]));
        // Only the current windows' row groups are held.
        assert!(stream.rows.len() <= set.sources(), "{}", stream.rows.len());
        Ok(())
    }

    #[test]
    fn a_stream_restarted_at_a_position_continues_bit_for_bit() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        folder(dir.path())?;
        let set = Arc::new(PhotoSet::from_folder(dir.path(), None)?);
        let mut straight = Stream::new(
            set.clone(),
            config(),
            DataPosition::default(),
            BTreeSet::new(),
        );
        let batches: Vec<Batch> = (0..7)
            .map(|_| straight.next_batch())
            .collect::<Result<_>>()?;
        // Restart after batch 3 (mid-epoch), with what a checkpoint would hold.
        let at = &batches[2];
        let mut resumed = Stream::new(set, config(), at.after, at.bad_files.clone());
        for b in &batches[3..] {
            let r = resumed.next_batch()?;
            assert!(r.data == b.data, "batch differs after the restart");
            assert_eq!(r.after, b.after);
            assert_eq!(r.bad_files, b.bad_files);
        }
        Ok(())
    }

    #[test]
    fn a_row_group_that_cannot_be_read_skips_its_rows_in_one_warning() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        folder(dir.path())?;
        let set = Arc::new(PhotoSet::from_folder(dir.path(), None)?);
        // The shard changes on disk after it was opened: its second row group is garbage.
        let path = dir.path().join("b.parquet");
        let mut bytes = std::fs::read(&path)?;
        let n = bytes.len();
        bytes[4..n / 2].iter_mut().for_each(|b| *b = 0x55);
        std::fs::write(&path, &bytes)?;
        let mut stream = Stream::new(
            set.clone(),
            config(),
            DataPosition::default(),
            BTreeSet::new(),
        );
        let mut warnings = Vec::new();
        let mut seen = Vec::new();
        for _ in 0..4 {
            let batch = stream.next_batch()?;
            seen.extend(reds(&batch));
            warnings.extend(batch.skipped.iter().map(|(name, _)| name.clone()));
        }
        // Shard b's photos (red 95..125) never come; the others do.
        assert!(seen.iter().all(|r| !(95..=125).contains(r)), "{seen:?}");
        assert!(seen.contains(&135) && seen.contains(&5), "{seen:?}");
        let whole: Vec<_> = warnings
            .iter()
            .filter(|w| w.contains("whole row group"))
            .collect();
        assert!(!whole.is_empty(), "{warnings:?}");
        assert!(
            whole.iter().all(|w| w.contains("b.parquet row")),
            "{warnings:?}"
        );
        Ok(())
    }
}
