//! The encoded images of a parquet row group, passed from the shard reader to the decoder.

/// The encoded images of one row group of a parquet shard, row by row (`None` for a row
/// without one): what a shard reads and what the photo set decodes.
pub type RowImages = Vec<Option<Vec<u8>>>;
