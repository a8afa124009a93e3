//! Parquet shards of photos, as the Hugging Face Hub publishes image datasets: each row holds
//! one encoded image in an image column (the `datasets` Image feature, a struct of `bytes` and
//! `path`). Only that column is read, one row group at a time.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::Array;
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;

use super::row_images::RowImages;

/// Rows decoded per arrow batch while reading a row group.
const READ_BATCH_ROWS: usize = 256;

/// An open parquet shard and where its images are.
pub struct Shard {
    pub path: PathBuf,
    meta: ArrowReaderMetadata,
    /// The leaf column that holds the encoded bytes.
    leaf: usize,
    /// Whether the image column is a struct around the bytes (the Image feature) rather than
    /// the bytes themselves.
    in_struct: bool,
}

impl Shard {
    /// Reads the shard's footer and finds its image column: `image_column` if given, else the
    /// only column shaped like the `datasets` Image feature (or the one named `image` among
    /// several). The error says what is wrong, for a warning that skips the shard.
    pub fn open(path: &Path, image_column: Option<&str>) -> Result<Self, String> {
        let file = File::open(path).map_err(|e| format!("cannot open it: {e}"))?;
        let meta = ArrowReaderMetadata::load(&file, Default::default()).map_err(|e| {
            format!("not a readable parquet file (truncated download?): {e}\n  hint: download it again, or move it out of the data folder")
        })?;
        let file_len = file
            .metadata()
            .map_err(|e| format!("cannot open it: {e}"))?
            .len();
        let (column, in_struct) = find_image_column(&meta, image_column)?;
        let parts: Vec<&str> = if in_struct {
            vec![column.as_str(), "bytes"]
        } else {
            vec![column.as_str()]
        };
        let leaf = meta
            .parquet_schema()
            .columns()
            .iter()
            .position(|c| c.path().parts() == parts)
            .ok_or_else(|| format!("column `{}` has no parquet leaf", parts.join(".")))?;
        check_footer(&meta, leaf, file_len)?;
        Ok(Self {
            path: path.to_path_buf(),
            meta,
            leaf,
            in_struct,
        })
    }

    /// The row groups that hold rows: (group, first row in the shard, rows).
    pub fn row_groups(&self) -> Vec<(usize, usize, usize)> {
        let mut first = 0;
        let mut out = Vec::new();
        for (g, rg) in self.meta.metadata().row_groups().iter().enumerate() {
            let rows = rg.num_rows().max(0) as usize;
            out.push((g, first, rows));
            first += rows;
        }
        out
    }

    /// The encoded images of row group `group`. An unreadable group (a damaged page) is an
    /// error, which makes all its rows bad photos.
    pub fn read_group(&self, group: usize) -> Result<RowImages, String> {
        // The parquet crate panics on some damage its footer checks let through; here that is
        // one more unreadable row group, not a dead loader thread.
        // AssertUnwindSafe: a panic leaves nothing half-changed here (the reader is local; the
        // shard's metadata is only read).
        let read = std::panic::AssertUnwindSafe(|| self.read_group_inner(group));
        std::panic::catch_unwind(read).unwrap_or_else(|panic| {
            let why = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown".into());
            Err(format!("the parquet reader failed on it ({why})"))
        })
    }

    fn read_group_inner(&self, group: usize) -> Result<RowImages, String> {
        let file = File::open(&self.path).map_err(|e| format!("cannot open it: {e}"))?;
        let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(file, self.meta.clone())
            .with_projection(ProjectionMask::leaves(
                self.meta.parquet_schema(),
                [self.leaf],
            ))
            .with_row_groups(vec![group])
            .with_batch_size(READ_BATCH_ROWS)
            .build()
            .map_err(|e| e.to_string())?;
        let expected = self.meta.metadata().row_group(group).num_rows().max(0) as usize;
        // The footer's count is checked against the file's size at open; still, grow as read.
        let mut out = Vec::with_capacity(expected.min(READ_BATCH_ROWS));
        for batch in reader {
            let batch = batch.map_err(|e| format!("cannot read it: {e}"))?;
            let column = batch.column(0);
            let (values, outer): (&dyn Array, Option<&dyn Array>) = if self.in_struct {
                let s = column
                    .as_struct_opt()
                    .ok_or("the image column is not a struct")?;
                (s.column(0).as_ref(), Some(column.as_ref()))
            } else {
                (column.as_ref(), None)
            };
            for i in 0..values.len() {
                let null = values.is_null(i) || outer.is_some_and(|o| o.is_null(i));
                out.push((!null).then(|| binary_value(values, i)).flatten());
            }
        }
        if out.len() != expected {
            return Err(format!(
                "read {} rows where the footer says {expected}",
                out.len()
            ));
        }
        Ok(out)
    }
}

/// Checks what the footer claims against the file: row counts a file of this size can hold
/// (at least one bit per row), and the image column's byte ranges inside it. A hostile or
/// damaged footer is a reason to skip the shard, not an allocation of its claim or a panic in
/// the reader.
fn check_footer(meta: &ArrowReaderMetadata, leaf: usize, file_len: u64) -> Result<(), String> {
    let max_rows = file_len.saturating_mul(8).saturating_add(64);
    let mut total: u64 = 0;
    for (g, rg) in meta.metadata().row_groups().iter().enumerate() {
        let rows = u64::try_from(rg.num_rows())
            .map_err(|_| format!("row group {g} claims {} rows", rg.num_rows()))?;
        total = total.saturating_add(rows);
        let chunk = rg.column(leaf);
        let start = chunk
            .dictionary_page_offset()
            .unwrap_or(chunk.data_page_offset())
            .min(chunk.data_page_offset());
        let size = chunk.compressed_size();
        let end = u64::try_from(start)
            .ok()
            .zip(u64::try_from(size).ok())
            .map(|(a, b)| a.saturating_add(b));
        if end.is_none_or(|end| end > file_len) {
            return Err(format!(
                "row group {g}: the image column claims bytes {start}..+{size}, outside the file's {file_len} (damaged footer)"
            ));
        }
    }
    if total > max_rows {
        return Err(format!(
            "the footer claims {total} rows, more than a {file_len}-byte file holds (damaged footer)"
        ));
    }
    Ok(())
}

/// Row `i` of a binary column of any of arrow's three layouts.
fn binary_value(values: &dyn Array, i: usize) -> Option<Vec<u8>> {
    if let Some(a) = values.as_binary_opt::<i32>() {
        Some(a.value(i).to_vec())
    } else if let Some(a) = values.as_binary_opt::<i64>() {
        Some(a.value(i).to_vec())
    } else {
        values.as_binary_view_opt().map(|a| a.value(i).to_vec())
    }
}

fn is_binary(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView
    )
}

/// The image column's name, and whether it is a struct around `bytes`.
fn find_image_column(
    meta: &ArrowReaderMetadata,
    wanted: Option<&str>,
) -> Result<(String, bool), String> {
    let schema = meta.schema();
    let shape = |t: &DataType| match t {
        DataType::Struct(fields) => fields
            .iter()
            .any(|f| f.name() == "bytes" && is_binary(f.data_type()))
            .then_some(true),
        t if is_binary(t) => Some(false),
        _ => None,
    };
    let names = || {
        schema
            .fields()
            .iter()
            .map(|f| format!("{} ({})", f.name(), f.data_type()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(name) = wanted {
        let field = schema.field_with_name(name).map_err(|_| {
            format!(
                "has no column `{name}` (image_column); its columns: {}",
                names()
            )
        })?;
        return shape(field.data_type())
            .map(|in_struct| (name.to_string(), in_struct))
            .ok_or_else(|| {
                format!(
                    "column `{name}` holds {}, not encoded images (binary, or a struct with a binary `bytes`)",
                    field.data_type()
                )
            });
    }
    // Without a name, only the Image feature's struct counts: a bare binary column could be
    // anything.
    let images: Vec<&str> = schema
        .fields()
        .iter()
        .filter(|f| shape(f.data_type()) == Some(true))
        .map(|f| f.name().as_str())
        .collect();
    match images[..] {
        [] => Err(format!(
            "has no image column (a struct with a binary `bytes` field, as the datasets Image feature writes); its columns: {}\n  hint: set image_column to the column that holds encoded images",
            names()
        )),
        [one] => Ok((one.to_string(), true)),
        _ => match images.iter().find(|n| **n == "image") {
            Some(n) => Ok((n.to_string(), true)),
            None => Err(format!(
                "has several image columns ({}); set image_column to the one to train on",
                images.join(", ")
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::shard_writer::{id_column, image_column, write_shard};
    use arrow_array::StringArray;
    use std::sync::Arc;

    fn rows(n: usize) -> Vec<Option<Vec<u8>>> {
        (0..n)
            .map(|i| (i != 4).then(|| vec![i as u8; 3 + i]))
            .collect()
    }

    #[test]
    fn reads_each_row_groups_images_and_nothing_else() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("s.parquet");
        let images = rows(7);
        write_shard(
            &path,
            vec![("id", id_column(7)), ("image", image_column(&images))],
            3,
        )?;
        let shard = Shard::open(&path, None).map_err(anyhow::Error::msg)?;
        assert_eq!(shard.row_groups(), [(0, 0, 3), (1, 3, 3), (2, 6, 1)]);
        assert_eq!(
            shard.read_group(1).map_err(anyhow::Error::msg)?,
            images[3..6]
        );
        assert_eq!(
            shard.read_group(2).map_err(anyhow::Error::msg)?,
            images[6..]
        );
        // Row 4 has no bytes: a null, not an empty image.
        assert_eq!(shard.read_group(1).map_err(anyhow::Error::msg)?[1], None);
        Ok(())
    }

    #[test]
    fn the_image_column_is_found_or_the_shard_says_why_not() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let write = |name: &str, columns| -> anyhow::Result<_> {
            let p = dir.path().join(name);
            write_shard(&p, columns, 10)?;
            Ok(p)
        };
        let captions =
            || -> arrow_array::ArrayRef { Arc::new(StringArray::from(vec!["a cat", "a dog"])) };
        let text = write(
            "text.parquet",
            vec![("id", id_column(2)), ("caption", captions())],
        )?;
        let err = Shard::open(&text, None).err().unwrap_or_default();
        assert!(
            err.contains("has no image column") && err.contains("caption (Utf8)"),
            "{err}"
        );
        let err = Shard::open(&text, Some("caption"))
            .err()
            .unwrap_or_default();
        assert!(err.contains("holds Utf8, not encoded images"), "{err}");
        let err = Shard::open(&text, Some("photo")).err().unwrap_or_default();
        assert!(err.contains("has no column `photo`"), "{err}");

        let images = rows(2);
        let two = write(
            "two.parquet",
            vec![
                ("mask", image_column(&images)),
                ("image", image_column(&images)),
            ],
        )?;
        assert!(Shard::open(&two, None).is_ok(), "`image` wins");
        let ambiguous = write(
            "ambiguous.parquet",
            vec![("a", image_column(&images)), ("b", image_column(&images))],
        )?;
        let err = Shard::open(&ambiguous, None).err().unwrap_or_default();
        assert!(err.contains("several image columns (a, b)"), "{err}");
        let b = Shard::open(&ambiguous, Some("b")).map_err(anyhow::Error::msg)?;
        assert_eq!(b.read_group(0).map_err(anyhow::Error::msg)?, images);
        Ok(())
    }

    #[test]
    fn reads_a_shard_written_by_pyarrow_as_the_datasets_library_writes_them() -> anyhow::Result<()>
    {
        // scripts/make-shard-fixture.py: rows 0-5 PNGs of (40 i + 10, 20, 30), row 6 without
        // bytes, row 7 a null struct; row groups of 3; snappy.
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/hub_shard.parquet");
        let shard = Shard::open(&path, None).map_err(anyhow::Error::msg)?;
        assert_eq!(shard.row_groups(), [(0, 0, 3), (1, 3, 3), (2, 6, 2)]);
        let mut rows = Vec::new();
        for (group, _, _) in shard.row_groups() {
            rows.extend(shard.read_group(group).map_err(anyhow::Error::msg)?);
        }
        assert_eq!(rows.len(), 8);
        for (i, row) in rows.iter().take(6).enumerate() {
            let bytes = row.as_deref().expect("row has bytes");
            let img = fauve::decode_image(bytes, Path::new("row"))?.to_rgb8();
            assert_eq!(img.dimensions(), (6, 4));
            assert_eq!(
                img.get_pixel(5, 3).0,
                [40 * i as u8 + 10, 20, 30],
                "row {i}"
            );
        }
        assert_eq!(rows[6], None, "bytes null");
        assert_eq!(rows[7], None, "struct null");
        Ok(())
    }

    #[test]
    fn a_truncated_shard_is_refused_with_a_hint() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("cut.parquet");
        write_shard(&path, vec![("image", image_column(&rows(6)))], 2)?;
        let bytes = std::fs::read(&path)?;
        std::fs::write(&path, &bytes[..bytes.len() / 2])?;
        let err = Shard::open(&path, None).err().unwrap_or_default();
        assert!(
            err.contains("truncated download") && err.contains("hint"),
            "{err}"
        );
        Ok(())
    }

    /// A shard the fuzzer made (scripts/fuzz.sh, 2026-12-04): its footer gives the image
    /// column a negative length, on which the parquet crate panics while reading. The footer
    /// check refuses the shard at open, naming the damage.
    #[test]
    fn a_footer_with_a_negative_length_is_refused_at_open() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/fuzz_shard_negative_length.parquet");
        let err = Shard::open(&path, None).err().expect("refused");
        assert!(
            err.contains("damaged footer") && err.contains("+-345"),
            "{err}"
        );
    }

    /// A footer that claims more rows than the file can hold is refused before anything is
    /// sized by the claim.
    #[test]
    fn row_counts_beyond_the_file_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.parquet");
        write_shard(&path, vec![("image", image_column(&rows(3)))], 3).unwrap();
        let shard = Shard::open(&path, None).unwrap();
        let len = std::fs::metadata(&path).unwrap().len();
        assert!(check_footer(&shard.meta, shard.leaf, len).is_ok());
        let err = check_footer(&shard.meta, shard.leaf, 4).unwrap_err();
        assert!(
            err.contains("outside the file") || err.contains("more than"),
            "{err}"
        );
    }
}
