//! Writes parquet shards in the layout the Hugging Face Hub publishes image datasets in (an
//! Image-feature struct of `bytes` and `path` per row), so that the tests can make shards like
//! the Hub's, with bad rows, without a network.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use arrow_array::{ArrayRef, BinaryArray, Int64Array, RecordBatch, StringArray, StructArray};
use arrow_schema::{DataType, Field, Fields};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

/// An Image-feature column: row `i` holds `images[i]`'s bytes (null where `None`) and a path.
pub fn image_column(images: &[Option<Vec<u8>>]) -> ArrayRef {
    let bytes = BinaryArray::from_iter(images.iter().map(|b| b.as_deref()));
    let paths = StringArray::from_iter_values((0..images.len()).map(|i| format!("{i:05}.jpg")));
    let fields = Fields::from(vec![
        Field::new("bytes", DataType::Binary, true),
        Field::new("path", DataType::Utf8, true),
    ]);
    Arc::new(StructArray::new(
        fields,
        vec![Arc::new(bytes), Arc::new(paths)],
        None,
    ))
}

/// A column of row numbers, as datasets carry ids beside their images.
pub fn id_column(rows: usize) -> ArrayRef {
    Arc::new(Int64Array::from_iter_values(0..rows as i64))
}

/// Writes `columns` as a shard at `path`, `rows_per_group` rows per row group.
pub fn write_shard(
    path: &Path,
    columns: Vec<(&str, ArrayRef)>,
    rows_per_group: usize,
) -> Result<()> {
    let batch = RecordBatch::try_from_iter(columns).context("inconsistent shard columns")?;
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(rows_per_group.max(1)))
        .build();
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(props))?;
    writer.write(&batch)?;
    writer.close()?;
    Ok(())
}
