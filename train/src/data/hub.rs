//! Photo datasets from the Hugging Face Hub: the parquet shards of one split of a dataset's
//! parquet conversion (the `refs/convert/parquet` revision, which the Hub keeps for every
//! public dataset), downloaded once into hf-hub's cache (`HF_HOME`, token from `HF_TOKEN`) and
//! read from there like a local folder of shards. Without a network, or with `HF_HUB_OFFLINE`
//! set, the shards already in the cache are used.
//!
//! This goes through hf-hub, the client `candle_datasets::hub` wraps, rather than through
//! `candle_datasets::hub::from_hub` itself: that downloads every split of a dataset (COCO's
//! test and validation shards besides the training ones) and returns open readers without the
//! paths that checkpoints and warnings name.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use hf_hub::progress::{DownloadEvent, ProgressEvent, ProgressHandler};
use hf_hub::{HFClientSync, HFError};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::photo_set::PARQUET_EXTENSION;

/// The revision that holds a dataset's parquet conversion.
pub const PARQUET_REVISION: &str = "refs/convert/parquet";

/// The shards of a dataset split, as local files.
pub struct Shards {
    /// The snapshot folder the files' names are relative to.
    pub root: PathBuf,
    pub files: Vec<PathBuf>,
}

/// Fetches (or finds in the cache) the parquet shards of split `split` of dataset
/// `owner/name`.
pub fn fetch(dataset: &str, split: &str) -> Result<Shards> {
    let (owner, name) = crate::config::dataset_id(dataset)?;
    let client = HFClientSync::new().context("cannot set up the Hugging Face Hub client")?;
    if offline_requested() {
        let cached = from_cache(&client, dataset, split, "HF_HUB_OFFLINE is set")?;
        eprintln!(
            "data: HF_HUB_OFFLINE is set: training on the {} shard(s) of {dataset} ({split}) in the Hub cache",
            cached.files.len()
        );
        return Ok(cached);
    }
    let repo = client.dataset(owner, name);
    let listing = repo.info().revision(PARQUET_REVISION).send();
    let info = match listing {
        Ok(info) => info,
        Err(e) if is_offline(&e) => {
            let why = root_cause(&e);
            let cached = from_cache(&client, dataset, split, &why)?;
            eprintln!(
                "warning: cannot reach the Hugging Face Hub ({why}); training on the {} shard(s) of {dataset} ({split}) found in its cache, which may not be all of them",
                cached.files.len()
            );
            return Ok(cached);
        }
        Err(e) => return Err(explain(e, dataset)),
    };
    let names: Vec<String> = info
        .siblings
        .unwrap_or_default()
        .into_iter()
        .map(|s| s.rfilename)
        .filter(|f| f.ends_with(&format!(".{PARQUET_EXTENSION}")))
        .collect();
    let wanted = select_split(&names, split)
        .with_context(|| format!("{dataset} has no parquet shards for split `{split}`"))?;
    if wanted.iter().any(|f| f.contains("/partial-")) {
        eprintln!("warning: the Hub converted only part of {dataset} ({split}) to parquet (a `partial-{split}` folder): training on that part");
    }

    let bar = download_bar();
    let mut files = Vec::with_capacity(wanted.len());
    for (i, file) in wanted.iter().enumerate() {
        let download = repo
            .download_file()
            .filename(file.clone())
            .revision(PARQUET_REVISION.to_string());
        // The cache first, as candle_datasets does: no request for a shard already there.
        let path = match download.clone().local_files_only(true).send() {
            Err(HFError::LocalEntryNotFound { .. }) => {
                let message = format!("shard {}/{} {file}", i + 1, wanted.len());
                if bar.is_hidden() {
                    // Not a terminal (a log): a line per shard instead of the bar.
                    eprintln!("downloading {message}");
                }
                bar.set_message(message);
                download
                    .progress(hf_hub::progress::Progress::new(BarHandler(bar.clone())))
                    .send()
            }
            cached => cached,
        }
        .map_err(|e| explain(e, dataset))
        .with_context(|| format!("cannot download {file} of {dataset}"))?;
        files.push(path);
    }
    bar.finish_and_clear();
    let root = snapshot_root(&files[0], &wanted[0]);
    eprintln!(
        "data: {} parquet shard(s) of {dataset} ({split}) in {}",
        files.len(),
        root.display()
    );
    Ok(Shards { root, files })
}

/// The shards of `split` among a revision's parquet files: `CONFIG/SPLIT/NNNN.parquet` (or
/// `CONFIG/partial-SPLIT/...` for a conversion cut short), or the older `SPLIT-NNNNN-of-N`
/// names. Several configs: `default` if there is one, else the first.
pub fn select_split(files: &[String], split: &str) -> Result<Vec<String>> {
    let partial = format!("partial-{split}");
    let in_split = |f: &str| {
        let parts: Vec<&str> = f.split('/').collect();
        let (dirs, name) = parts.split_at(parts.len() - 1);
        dirs.iter().any(|d| *d == split || *d == partial)
            || name[0].starts_with(&format!("{split}-"))
            || name[0] == format!("{split}.{PARQUET_EXTENSION}")
    };
    let mut chosen: Vec<&String> = files.iter().filter(|f| in_split(f)).collect();
    let config = |f: &str| {
        let parts: Vec<&str> = f.split('/').collect();
        (parts.len() >= 3).then(|| parts[0].to_string())
    };
    let mut configs: Vec<String> = chosen.iter().filter_map(|f| config(f)).collect();
    configs.sort();
    configs.dedup();
    if configs.len() > 1 {
        let pick = if configs.iter().any(|c| c == "default") {
            "default".to_string()
        } else {
            configs[0].clone()
        };
        eprintln!(
            "note: the dataset has several configs ({}); using `{pick}`",
            configs.join(", ")
        );
        chosen.retain(|f| config(f).as_deref() == Some(pick.as_str()));
    }
    if chosen.is_empty() {
        let mut splits: Vec<&str> = files
            .iter()
            .filter_map(|f| f.rsplit('/').nth(1))
            .map(|s| s.trim_start_matches("partial-"))
            .collect();
        splits.sort();
        splits.dedup();
        bail!(
            "its parquet files are in {}\n\nhint: set hf_split to one of those",
            if splits.is_empty() {
                "no split folders".to_string()
            } else {
                format!("the splits {}", splits.join(", "))
            }
        );
    }
    let mut out: Vec<String> = chosen.into_iter().cloned().collect();
    out.sort();
    Ok(out)
}

/// The shards of `split` of `dataset` in hf-hub's cache, for a machine without a network.
fn from_cache(client: &HFClientSync, dataset: &str, split: &str, why: &str) -> Result<Shards> {
    let scan = client
        .scan_cache()
        .send()
        .context("cannot read the Hugging Face cache")?;
    let revision = scan
        .repos
        .iter()
        .filter(|r| r.repo_id == dataset && r.repo_type == "dataset")
        .flat_map(|r| &r.revisions)
        .find(|rev| rev.refs.iter().any(|r| r.ends_with("convert/parquet")));
    let offline = || {
        format!(
            "cannot reach the Hugging Face Hub to fetch {dataset} ({why}), and its cache ({}) holds no parquet shards of it\n\nhint: connect to the network (HF_ENDPOINT sets a mirror), or download the shards elsewhere and point data_dir at them",
            scan.cache_dir.display()
        )
    };
    let Some(revision) = revision else {
        bail!("{}", offline());
    };
    let names: Vec<String> = revision.files.iter().map(|f| f.file_name.clone()).collect();
    let wanted = select_split(&names, split).with_context(offline)?;
    let files: Vec<PathBuf> = wanted
        .iter()
        .map(|n| revision.snapshot_path.join(n))
        .collect();
    Ok(Shards {
        root: revision.snapshot_path.clone(),
        files,
    })
}

/// Whether the user asked the Hugging Face tools to stay off the network, as the Python
/// libraries read it.
fn offline_requested() -> bool {
    std::env::var("HF_HUB_OFFLINE")
        .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
}

/// Whether a Hub error means that the Hub could not be reached at all.
fn is_offline(e: &HFError) -> bool {
    matches!(e, HFError::Request { .. })
}

/// The innermost cause of an error ("Connection refused", a DNS failure), which says more
/// than the request that failed.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut e = e;
    while let Some(source) = e.source() {
        e = source;
    }
    e.to_string()
}

/// A Hub error in the user's terms.
fn explain(e: HFError, dataset: &str) -> anyhow::Error {
    let hint = match &e {
        HFError::RepoNotFound { .. } => format!(
            "\n\nhint: no dataset {dataset} on the Hub, or it is private: check the name, or set HF_TOKEN"
        ),
        HFError::RevisionNotFound { .. } => format!(
            "\n\nhint: the Hub has no parquet conversion of {dataset}; download its files and point data_dir at them"
        ),
        HFError::AuthRequired { .. } | HFError::Forbidden { .. } => {
            "\n\nhint: a gated or private dataset needs a token: set HF_TOKEN (and accept its terms on the Hub)".to_string()
        }
        _ => String::new(),
    };
    anyhow::anyhow!(
        "the Hugging Face Hub refused {dataset}: {}{hint}",
        fauve::report(&e)
    )
}

/// The snapshot folder that holds repository file `name` at `path`.
fn snapshot_root(path: &std::path::Path, name: &str) -> PathBuf {
    let depth = name.split('/').count();
    path.ancestors()
        .nth(depth)
        .map_or_else(|| path.to_path_buf(), |p| p.to_path_buf())
}

fn download_bar() -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {msg} [{wide_bar}] {bytes}/{total_bytes} {bytes_per_sec} | ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(500));
    bar
}

/// Shows a shard's download on the bar.
struct BarHandler(ProgressBar);

impl ProgressHandler for BarHandler {
    fn on_progress(&self, event: &ProgressEvent) {
        let ProgressEvent::Download(event) = event else {
            return;
        };
        match event {
            DownloadEvent::Start { total_bytes, .. } => {
                self.0.set_length(*total_bytes);
                self.0.set_position(0);
                self.0.reset_eta();
            }
            DownloadEvent::Progress { files } => {
                let done: u64 = files.iter().map(|f| f.bytes_completed).sum();
                self.0.set_position(done);
            }
            DownloadEvent::AggregateProgress {
                bytes_completed, ..
            } => self.0.set_position(*bytes_completed),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_split_is_found_in_each_layout() {
        let files = names(&[
            "default/train/0000.parquet",
            "default/train/0001.parquet",
            "default/validation/0000.parquet",
        ]);
        assert_eq!(
            select_split(&files, "train").unwrap(),
            names(&["default/train/0000.parquet", "default/train/0001.parquet"])
        );
        let partial = names(&[
            "default/partial-train/0000.parquet",
            "default/test/0000.parquet",
        ]);
        assert_eq!(
            select_split(&partial, "train").unwrap(),
            names(&["default/partial-train/0000.parquet"])
        );
        let old = names(&[
            "data/train-00000-of-00002.parquet",
            "data/val-00000-of-00001.parquet",
        ]);
        assert_eq!(
            select_split(&old, "train").unwrap(),
            names(&["data/train-00000-of-00002.parquet"])
        );
        // Several configs: `default` wins.
        let configs = names(&["2014/train/0000.parquet", "default/train/0000.parquet"]);
        assert_eq!(
            select_split(&configs, "train").unwrap(),
            names(&["default/train/0000.parquet"])
        );
        let err = format!("{:#}", select_split(&files, "test").unwrap_err());
        assert!(
            err.contains("train, validation") && err.contains("hf_split"),
            "{err}"
        );
    }

    #[test]
    fn the_snapshot_root_strips_the_repository_path() {
        let p = std::path::Path::new("/c/datasets--a--b/snapshots/abc/default/train/0000.parquet");
        assert_eq!(
            snapshot_root(p, "default/train/0000.parquet"),
            PathBuf::from("/c/datasets--a--b/snapshots/abc")
        );
    }
}
