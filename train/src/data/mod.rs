//! Training photos: image files and parquet shards found recursively in a folder (or fetched
//! from the Hugging Face Hub), shuffled per epoch from the seed, decoded and cropped on worker
//! threads ahead of the training step, and assembled into batches. Unreadable photos are
//! skipped, counted and reported, never fatal.

mod crop;
#[cfg(feature = "hub")]
pub mod hub;
mod loader;
mod order;
mod photo_set;
mod row_images;
#[cfg(feature = "parquet")]
pub mod shard_writer;
#[cfg(feature = "parquet")]
mod shards;

pub use crop::crop_photo;
pub use loader::{Batch, BatchLoader, DataPosition, LoaderConfig};
pub use order::{epoch_order, EpochPlan, SHUFFLE_WINDOW};
pub use photo_set::{list_images, PhotoSet, Source, PARQUET_EXTENSION};
pub use row_images::RowImages;
