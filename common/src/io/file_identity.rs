//! Whether two paths name one file on disk, whatever their spelling: `./m.safetensors` and
//! `m.safetensors`, a symbolic link and its target, two hard links, or two spellings on a
//! case-insensitive file system. Every guard that keeps an output from replacing an input
//! compares files this way, never path strings.

use std::path::{Path, PathBuf};

/// The identity of an existing file: its device and inode number on Unix (what the kernel
/// itself compares), its canonical path elsewhere.
///
/// Read from the file's metadata without opening it, so a guard can hold the identities of
/// thousands of inputs without running out of file handles (the `same-file` crate keeps
/// each file open, which is why it is not used here).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileId(Inner);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Inner {
    #[cfg(unix)]
    Inode { device: u64, inode: u64 },
    #[cfg(not(unix))]
    Canonical(PathBuf),
}

impl FileId {
    /// The identity of the file at `path` (links followed), or None when nothing is there (or
    /// it cannot be reached: then it cannot be overwritten through this path either).
    pub fn of(path: &Path) -> Option<Self> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let meta = std::fs::metadata(path).ok()?;
            Some(FileId(Inner::Inode {
                device: meta.dev(),
                inode: meta.ino(),
            }))
        }
        #[cfg(not(unix))]
        {
            path.canonicalize()
                .ok()
                .map(|p| FileId(Inner::Canonical(p)))
        }
    }
}

/// Whether `a` and `b` name the same existing file (false when either does not exist).
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (FileId::of(a), FileId::of(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// The form of a path whose file may not exist yet under which two spellings of it compare
/// equal: the canonical path when it exists, else its folder's canonical path and its name
/// (`a/../b.png` and `b.png`). For outputs of one run that are not written yet.
pub fn canonical_target(path: &Path) -> PathBuf {
    if let Ok(p) = path.canonicalize() {
        return p;
    }
    match (super::folder_of(path).canonicalize(), path.file_name()) {
        (Ok(dir), Some(name)) => dir.join(name),
        _ => path.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_links_and_hard_links_are_one_file() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let a = dir.path().join("m.safetensors");
        std::fs::write(&a, b"x")?;
        std::fs::create_dir(dir.path().join("sub"))?;
        assert!(same_file(&a, &dir.path().join("sub/../m.safetensors")));
        let hard = dir.path().join("hard.safetensors");
        std::fs::hard_link(&a, &hard)?;
        assert!(same_file(&a, &hard));
        #[cfg(unix)]
        {
            let soft = dir.path().join("soft.safetensors");
            std::os::unix::fs::symlink(&a, &soft)?;
            assert!(same_file(&soft, &a));
        }
        let other = dir.path().join("other.safetensors");
        std::fs::write(&other, b"x")?;
        assert!(!same_file(&a, &other));
        assert!(!same_file(&a, &dir.path().join("missing")));
        Ok(())
    }

    #[test]
    fn targets_not_written_yet_compare_by_folder_and_name() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        std::fs::create_dir(dir.path().join("sub"))?;
        assert_eq!(
            canonical_target(&dir.path().join("sub/../new.png")),
            canonical_target(&dir.path().join("new.png"))
        );
        Ok(())
    }
}
