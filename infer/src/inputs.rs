//! Which files to stylize: files as given, folders searched recursively for images, with each
//! image's sub-folder kept so that outputs can mirror the tree. Missing paths and non-image
//! files are counted, not fatal.

use std::path::{Path, PathBuf};

/// One image to stylize.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub input: PathBuf,
    /// Sub-folder of the image under the folder it was found in (empty for a file given as is
    /// and for images at a folder's top level); outputs in `-o DIR` go to `DIR/<subdir>`.
    pub subdir: PathBuf,
}

/// What the inputs expanded to.
#[derive(Debug, Default)]
pub struct Expanded {
    pub jobs: Vec<Job>,
    /// Inputs that could not be used, with the reason, already worded for the user.
    pub problems: Vec<String>,
    /// Files inside input folders that are not images (by extension).
    pub non_images: usize,
}

/// Expands inputs: files are kept as given (whatever their name; the decoder looks at
/// content), folders become their image files, recursively and sorted. `skip` is a folder
/// never searched (the output folder, when it lies inside an input folder, so that a second
/// run does not stylize the first run's results).
pub fn expand_inputs(inputs: &[PathBuf], skip: Option<&Path>) -> Expanded {
    let skip = skip.and_then(|p| p.canonicalize().ok());
    let mut out = Expanded::default();
    for input in inputs {
        match std::fs::metadata(input) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => out
                .problems
                .push(format!("{}: no such file or folder", input.display())),
            Err(e) => out.problems.push(format!("{}: {e}", input.display())),
            Ok(m) if m.is_dir() => expand_folder(input, skip.as_deref(), &mut out),
            Ok(_) => out.jobs.push(Job {
                input: input.clone(),
                subdir: PathBuf::new(),
            }),
        }
    }
    out
}

fn expand_folder(folder: &Path, skip: Option<&Path>, out: &mut Expanded) {
    let before = out.jobs.len();
    let walk = walkdir::WalkDir::new(folder)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            !(e.file_type().is_dir()
                && e.depth() > 0
                && skip.is_some_and(|s| e.path().canonicalize().is_ok_and(|p| p == s)))
        });
    for entry in walk {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                out.problems.push(format!("cannot list {e}"));
                continue;
            }
        };
        if !entry.file_type().is_file() {
            continue;
        }
        let path = entry.into_path();
        if !fauve::has_image_extension(&path) {
            out.non_images += 1;
            continue;
        }
        let subdir = path
            .parent()
            .and_then(|p| p.strip_prefix(folder).ok())
            .map(Path::to_path_buf)
            .unwrap_or_default();
        out.jobs.push(Job {
            input: path,
            subdir,
        });
    }
    if out.jobs.len() == before {
        out.problems.push(format!(
            "{}: no image files in this folder ({})",
            folder.display(),
            fauve::IMAGE_EXTENSIONS.join(", ")
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(p: &Path) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"x").unwrap();
    }

    #[test]
    fn folders_are_searched_recursively_keeping_sub_folders() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("photos");
        for f in [
            "b.jpg",
            "a.png",
            "trip/day1/c.JPG",
            "notes.txt",
            "trip/x.md",
        ] {
            touch(&root.join(f));
        }
        let e = expand_inputs(std::slice::from_ref(&root), None);
        let got: Vec<_> = e
            .jobs
            .iter()
            .map(|j| {
                (
                    j.input.strip_prefix(&root).unwrap().to_path_buf(),
                    j.subdir.clone(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("a.png".into(), PathBuf::new()),
                ("b.jpg".into(), PathBuf::new()),
                ("trip/day1/c.JPG".into(), PathBuf::from("trip/day1")),
            ]
        );
        assert_eq!(e.non_images, 2);
        assert!(e.problems.is_empty(), "{:?}", e.problems);
    }

    #[test]
    fn missing_inputs_and_empty_folders_are_problems_not_failures() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x.jpg");
        touch(&file);
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        let e = expand_inputs(&[dir.path().join("gone.jpg"), file.clone(), empty], None);
        assert_eq!(e.jobs.len(), 1);
        assert_eq!(e.jobs[0].input, file);
        assert_eq!(e.problems.len(), 2, "{:?}", e.problems);
        assert!(e.problems[0].ends_with("gone.jpg: no such file or folder"));
        assert!(e.problems[1].contains("no image files"));
    }

    #[test]
    fn the_output_folder_inside_an_input_folder_is_not_searched() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("photos");
        touch(&root.join("a.jpg"));
        touch(&root.join("stylized/a-style.jpg"));
        let e = expand_inputs(std::slice::from_ref(&root), Some(&root.join("stylized")));
        assert_eq!(e.jobs.len(), 1);
        assert_eq!(e.jobs[0].input, root.join("a.jpg"));
    }
}
