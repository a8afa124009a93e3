//! The photo set: image files and parquet shards found under a folder (or fetched from the
//! Hub), numbered so that a position in the data stream, a bad photo or a checkpoint can name
//! each photo by one number.

use std::ops::Range;
use std::path::{Path, PathBuf};
#[cfg(feature = "parquet")]
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use image::DynamicImage;
use sha2::{Digest, Sha256};

use super::row_images::RowImages;
#[cfg(feature = "parquet")]
use super::shards::Shard;

/// The file extension of parquet shards.
pub const PARQUET_EXTENSION: &str = "parquet";

/// Where photos come from: each source holds one photo or a run of rows.
pub enum Source {
    /// One image file.
    File(PathBuf),
    /// One row group of a parquet shard, whose rows `first_row..first_row + rows` are photos.
    #[cfg(feature = "parquet")]
    RowGroup {
        shard: Arc<Shard>,
        group: usize,
        first_row: usize,
        rows: usize,
    },
    /// A stand-in of `n` photos for tests of the order.
    #[cfg(test)]
    Fake(usize),
}

impl Source {
    fn len(&self) -> usize {
        match self {
            Self::File(_) => 1,
            #[cfg(feature = "parquet")]
            Self::RowGroup { rows, .. } => *rows,
            #[cfg(test)]
            Self::Fake(n) => *n,
        }
    }
}

/// Every photo a run trains on, numbered 0.. in the sorted order of the files that hold them.
pub struct PhotoSet {
    sources: Vec<Source>,
    /// The number of the first photo of each source.
    starts: Vec<usize>,
    photos: usize,
    fingerprint: String,
    /// Shards that could not be used, with the reason, for the user to hear about.
    pub skipped_shards: Vec<(PathBuf, String)>,
}

impl PhotoSet {
    /// The image files and parquet shards under `dir` (recursively). `image_column` names the
    /// shards' image column where it cannot be found automatically.
    pub fn from_folder(dir: &Path, image_column: Option<&str>) -> Result<Self> {
        let files = list_files(dir, |p| fauve::has_image_extension(p) || is_parquet(p))?;
        if files.is_empty() {
            bail!(
                "data folder {} has no image files ({}) and no parquet shards (*.{PARQUET_EXTENSION})",
                dir.display(),
                fauve::IMAGE_EXTENSIONS.join(", ")
            );
        }
        Self::from_files(dir, files, image_column)
            .with_context(|| format!("no usable photos in {}", dir.display()))
    }

    /// The photos in `files` (image files or parquet shards, in sorted order); `root` is the
    /// folder their names in the fingerprint are relative to.
    pub fn from_files(
        root: &Path,
        files: Vec<PathBuf>,
        image_column: Option<&str>,
    ) -> Result<Self> {
        let mut set = Self::empty();
        let mut hash = Sha256::new();
        for file in files {
            let size = std::fs::metadata(&file)
                .with_context(|| format!("cannot read {}", file.display()))?
                .len();
            let rel = file.strip_prefix(root).unwrap_or(&file);
            hash.update(format!("{}\t{size}\n", rel.display()).as_bytes());
            if is_parquet(&file) {
                set.add_shard(file, image_column)?;
            } else {
                set.push(Source::File(file));
            }
        }
        if set.photos == 0 {
            match set.skipped_shards.first() {
                Some((path, why)) => bail!(
                    "none of the {} parquet shard(s) could be used; the first, {}: {why}",
                    set.skipped_shards.len(),
                    path.display()
                ),
                None => bail!("the shards hold no rows"),
            }
        }
        set.fingerprint = format!("{}:{:x}", set.photos, hash.finalize());
        Ok(set)
    }

    fn empty() -> Self {
        Self {
            sources: Vec::new(),
            starts: Vec::new(),
            photos: 0,
            fingerprint: String::new(),
            skipped_shards: Vec::new(),
        }
    }

    #[cfg(feature = "parquet")]
    fn add_shard(&mut self, path: PathBuf, image_column: Option<&str>) -> Result<()> {
        match Shard::open(&path, image_column) {
            Ok(shard) => {
                let shard = Arc::new(shard);
                for (group, first_row, rows) in shard.row_groups() {
                    self.push(Source::RowGroup {
                        shard: shard.clone(),
                        group,
                        first_row,
                        rows,
                    });
                }
            }
            Err(why) => self.skipped_shards.push((path, why)),
        }
        Ok(())
    }

    #[cfg(not(feature = "parquet"))]
    fn add_shard(&mut self, path: PathBuf, _image_column: Option<&str>) -> Result<()> {
        bail!(
            "{} is a parquet shard, but this fauve-train was built without parquet support\n\nhint: build it with its default features (cargo build --release -p fauve-train)",
            path.display()
        )
    }

    fn push(&mut self, source: Source) {
        let n = source.len();
        if n == 0 {
            return;
        }
        self.starts.push(self.photos);
        self.photos += n;
        self.sources.push(source);
    }

    /// A set of fake sources holding `sizes` photos each (a size above 1 acts as a row group).
    #[cfg(test)]
    pub fn from_sizes(sizes: &[usize]) -> Self {
        let mut set = Self::empty();
        for &n in sizes {
            set.push(Source::Fake(n));
        }
        set
    }

    /// How many photos the set holds (unreadable ones included until they are met).
    pub fn photos(&self) -> usize {
        self.photos
    }

    /// The number of photos and a SHA-256 of the files' paths (relative to the folder) and
    /// sizes, in sorted order. Stored in checkpoints so that a resume can tell that the set
    /// changed, which would change the data order.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// How many sources (files and row groups) the set has.
    pub fn sources(&self) -> usize {
        self.sources.len()
    }

    /// Source `i`.
    pub fn source(&self, i: usize) -> &Source {
        &self.sources[i]
    }

    /// The photo numbers source `i` holds.
    pub fn items_of(&self, i: usize) -> Range<usize> {
        self.starts[i]..self.starts[i] + self.sources[i].len()
    }

    /// Whether source `i` is read as a whole (a row group) rather than photo by photo.
    pub fn is_row_group(&self, i: usize) -> bool {
        match &self.sources[i] {
            Source::File(_) => false,
            #[cfg(feature = "parquet")]
            Source::RowGroup { .. } => true,
            #[cfg(test)]
            Source::Fake(n) => *n > 1,
        }
    }

    /// Whether any photo lives in a parquet shard.
    pub fn has_row_groups(&self) -> bool {
        (0..self.sources.len()).any(|i| self.is_row_group(i))
    }

    /// The source that holds photo `item`, and the photo's place in it.
    pub fn locate(&self, item: usize) -> (usize, usize) {
        let source = self.starts.partition_point(|&s| s <= item) - 1;
        (source, item - self.starts[source])
    }

    /// How warnings name photo `item`: its file, or its shard and row.
    #[cfg_attr(not(feature = "parquet"), allow(unused_variables))]
    pub fn name(&self, item: usize) -> String {
        let (source, offset) = self.locate(item);
        match &self.sources[source] {
            Source::File(path) => path.display().to_string(),
            #[cfg(feature = "parquet")]
            Source::RowGroup {
                shard, first_row, ..
            } => format!("{} row {}", shard.path.display(), first_row + offset),
            #[cfg(test)]
            Source::Fake(_) => format!("fake {source} row {offset}"),
        }
    }

    /// The encoded images of source `i`, a row group (read whole: a shard is read no finer).
    pub fn read_group(&self, i: usize) -> Result<RowImages, String> {
        match &self.sources[i] {
            #[cfg(feature = "parquet")]
            Source::RowGroup { shard, group, .. } => shard.read_group(*group),
            _ => Err(format!("{} is not a row group", self.name(self.starts[i]))),
        }
    }

    /// Decodes photo `item`, reading its row group if `rows` does not hold it.
    #[cfg_attr(not(feature = "parquet"), allow(unused_variables))]
    pub fn decode(&self, item: usize, rows: Option<&RowImages>) -> Result<DynamicImage, String> {
        let (source, offset) = self.locate(item);
        match &self.sources[source] {
            Source::File(path) => fauve::load_image(path).map_err(|e| fauve::report(&e)),
            #[cfg(feature = "parquet")]
            Source::RowGroup { .. } => {
                let read;
                let images = match rows {
                    Some(r) => r,
                    None => {
                        read = self.read_group(source)?;
                        &read
                    }
                };
                let bytes = images
                    .get(offset)
                    .ok_or_else(|| "the row group is shorter than its metadata says".to_string())?
                    .as_deref()
                    .ok_or_else(|| "no image in this row (null)".to_string())?;
                fauve::decode_image(bytes, Path::new(&self.name(item)))
                    .map_err(|e| fauve::report(&e))
            }
            #[cfg(test)]
            Source::Fake(_) => Err("a fake photo".into()),
        }
    }

    /// The first photo that decodes, for samples when the config names none.
    pub fn first_photo(&self) -> Option<DynamicImage> {
        (0..self.photos.min(16)).find_map(|i| self.decode(i, None).ok())
    }
}

fn is_parquet(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case(PARQUET_EXTENSION))
}

/// Files under `dir` (recursively) that `keep` accepts, sorted so that the order, and so the
/// shuffle, is the same on every machine. A missing folder is an error.
fn list_files(dir: &Path, keep: impl Fn(&Path) -> bool) -> Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        bail!(
            "data folder {} does not exist\n\nhint: point --data-dir at a folder of photos or parquet shards (e.g. COCO's train2014/), set --hf-dataset, or run scripts/fetch-photos.sh for sample photos",
            dir.display()
        );
    }
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir).follow_links(true) {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        if entry.file_type().is_file() && keep(entry.path()) {
            files.push(entry.into_path());
        }
    }
    files.sort();
    Ok(files)
}

/// All image files under `dir` (by extension, recursively), sorted. A missing or empty folder
/// is an error.
pub fn list_images(dir: &Path) -> Result<Vec<PathBuf>> {
    let files = list_files(dir, fauve::has_image_extension)?;
    if files.is_empty() {
        bail!(
            "data folder {} has no image files ({})",
            dir.display(),
            fauve::IMAGE_EXTENSIONS.join(", ")
        );
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fingerprint(dir: &Path) -> Result<String> {
        Ok(PhotoSet::from_folder(dir, None)?.fingerprint().to_string())
    }

    #[test]
    fn the_fingerprint_changes_with_the_file_set_and_sizes_only() -> Result<()> {
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join("a.jpg"), b"aaa")?;
        std::fs::write(dir.path().join("b.jpg"), b"bb")?;
        let first = fingerprint(dir.path())?;
        // The same as before shards existed, so that older checkpoints still match.
        assert_eq!(
            first,
            "2:b4209f0705dd35f989935b15e11e5cd8b2b624b41a350c1cb5b8ea5de643dc9b"
        );
        assert_eq!(fingerprint(dir.path())?, first, "stable");
        std::fs::write(dir.path().join("b.jpg"), b"bbbb")?;
        let resized = fingerprint(dir.path())?;
        assert_ne!(resized, first);
        std::fs::write(dir.path().join("c.png"), b"c")?;
        assert!(fingerprint(dir.path())?.starts_with("3:"));
        // Moving the whole folder keeps it: paths count relative to the folder.
        let moved = tempfile::tempdir()?;
        std::fs::remove_file(dir.path().join("c.png"))?;
        for f in ["a.jpg", "b.jpg"] {
            std::fs::copy(dir.path().join(f), moved.path().join(f))?;
        }
        assert_eq!(fingerprint(moved.path())?, resized);
        Ok(())
    }

    #[test]
    fn missing_and_empty_folders_are_errors() {
        let err = PhotoSet::from_folder(Path::new("/no/such/photos"), None)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("does not exist"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("readme.txt"), "x").unwrap();
        let err = format!(
            "{:#}",
            PhotoSet::from_folder(dir.path(), None).err().unwrap()
        );
        assert!(
            err.contains("no image files") && err.contains("parquet"),
            "{err}"
        );
        let err = list_images(dir.path()).unwrap_err().to_string();
        assert!(err.contains("no image files"), "{err}");
    }

    #[test]
    fn photos_are_numbered_through_their_sources() {
        let set = PhotoSet::from_sizes(&[1, 5, 1, 3]);
        assert_eq!(set.photos(), 10);
        assert_eq!(set.locate(0), (0, 0));
        assert_eq!(set.locate(1), (1, 0));
        assert_eq!(set.locate(5), (1, 4));
        assert_eq!(set.locate(6), (2, 0));
        assert_eq!(set.locate(9), (3, 2));
        assert_eq!(set.items_of(3), 7..10);
        assert!(set.is_row_group(1) && !set.is_row_group(0) && !set.is_row_group(2));
    }
}
