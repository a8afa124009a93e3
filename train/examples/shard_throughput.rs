//! Photos per second from parquet shards against the same photos as files, side by side in one
//! run: packs a folder's photos into shards (the Hub's layout, 100 rows per row group), then
//! streams both through the training loader for the same number of batches.
//!
//! `cargo run --release -p fauve-train --example shard_throughput -- data/photos [BATCHES]`

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use fauve_train::data::shard_writer::{image_column, write_shard};
use fauve_train::data::{list_images, BatchLoader, DataPosition, LoaderConfig, PhotoSet};

/// Rows per row group, as the `datasets` library writes image datasets.
const ROWS_PER_GROUP: usize = 100;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let folder = Path::new(
        args.first()
            .context("usage: shard_throughput PHOTO_FOLDER [BATCHES]")?,
    );
    let batches: usize = args.get(1).map_or(Ok(100), |b| b.parse())?;
    let files = list_images(folder)?;
    let shards = tempfile::tempdir()?;
    // Two shards, so that windows mix shards as they would on the Hub.
    let half = files.len().div_ceil(2);
    for (i, part) in files.chunks(half).enumerate() {
        let rows: Vec<_> = part.iter().map(|f| std::fs::read(f).ok()).collect();
        write_shard(
            &shards.path().join(format!("{i:04}.parquet")),
            vec![("image", image_column(&rows))],
            ROWS_PER_GROUP,
        )?;
    }
    let cfg = LoaderConfig {
        batch_size: 4,
        image_size: 256,
        seed: 1,
        random_crop: false,
        workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
        prefetch: 2,
    };
    println!(
        "{} photos, {batches} batches of {} at {} px on {} threads",
        files.len(),
        cfg.batch_size,
        cfg.image_size,
        cfg.workers
    );
    let mut rates = Vec::new();
    for (name, dir) in [("files", folder), ("shards", shards.path())] {
        let set = Arc::new(PhotoSet::from_folder(dir, None)?);
        let loader = BatchLoader::start(
            set,
            cfg.clone(),
            DataPosition::default(),
            Default::default(),
        )?;
        let start = Instant::now();
        for _ in 0..batches {
            loader.next_batch()?;
        }
        let rate = (batches * cfg.batch_size) as f64 / start.elapsed().as_secs_f64();
        println!("{name:>6}: {rate:.1} photos/s");
        rates.push(rate);
    }
    println!("shards / files: {:.2}", rates[1] / rates[0]);
    Ok(())
}
