//! Training from parquet shards like the Hugging Face Hub's, written here: bad rows and bad
//! shards are skipped and named, a resumed run equals an uninterrupted one, and `hf_dataset`
//! fails clearly without a network unless the shards are in the Hub cache.

use std::path::{Path, PathBuf};

use fauve_train::data::shard_writer::{id_column, image_column, write_shard};

use super::{assert_resume_reproduces, resume_args, setup, text, train, Setup};

/// Shards made of the setup's photos: `a.parquet` with the photos in row groups of 3, a
/// garbage row (5) and a row without bytes (6); a truncated shard; a shard of captions.
fn shard_folder(s: &Setup) -> anyhow::Result<PathBuf> {
    let shards = s.dir.path().join("shards");
    std::fs::create_dir_all(&shards)?;
    let mut rows = Vec::new();
    for entry in walk(&s.photos) {
        rows.push(Some(std::fs::read(entry)?));
    }
    rows.insert(5, Some(b"\xFF\xD8\xFF\xE0 broken".to_vec()));
    rows.insert(6, None);
    let n = rows.len();
    write_shard(
        &shards.join("a.parquet"),
        vec![("id", id_column(n)), ("image", image_column(&rows))],
        3,
    )?;
    write_shard(
        &shards.join("cut.parquet"),
        vec![("image", image_column(&rows))],
        3,
    )?;
    let cut = std::fs::read(shards.join("cut.parquet"))?;
    std::fs::write(shards.join("cut.parquet"), &cut[..cut.len() / 3])?;
    write_shard(
        &shards.join("captions.parquet"),
        vec![("id", id_column(2))],
        3,
    )?;
    Ok(shards)
}

/// The image files under `dir`, sorted.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).expect("readable").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The setup's arguments with the data folder replaced.
fn args_with_data(s: &Setup, run: &Path, steps: usize, data: &Path) -> Vec<String> {
    let mut args = s.args(run, steps);
    let i = args
        .iter()
        .position(|a| a == "--data-dir")
        .expect("data flag");
    args[i + 1] = data.display().to_string();
    args
}

#[test]
fn training_on_shards_skips_bad_rows_and_shards_and_resumes_bit_for_bit() -> anyhow::Result<()> {
    let s = setup(6);
    let shards = shard_folder(&s)?;
    let straight = s.run_dir("straight");
    // 8 rows, 6 good, batches of 2: 10 steps cross epochs and meet both bad rows.
    let o = train(&args_with_data(&s, &straight, 10, &shards), &[]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("skipping shard") && t.contains("cut.parquet: not a readable parquet file"),
        "{t}"
    );
    assert!(t.contains("captions.parquet: has no image column"), "{t}");
    assert!(t.contains("a.parquet row 5: "), "{t}");
    assert!(
        t.contains("a.parquet row 6: no image in this row (null)"),
        "{t}"
    );
    assert_eq!(t.matches("warning: skipping a").count(), 0, "{t}");
    assert!(t.contains("2 unreadable photo(s) skipped"), "{t}");
    let m = fauve::ModelFile::load(
        &straight.join("model.safetensors"),
        &candle_core::Device::Cpu,
    )?;
    assert_eq!(m.metadata.training.unwrap()["skipped_files"], 2);

    let split = s.run_dir("split");
    let o = train(&args_with_data(&s, &split, 6, &shards), &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert_resume_reproduces(&straight, &split, 6, 10);
    Ok(())
}

#[test]
fn a_folder_of_unusable_shards_is_an_error_that_names_them() -> anyhow::Result<()> {
    let s = setup(6);
    let shards = shard_folder(&s)?;
    std::fs::remove_file(shards.join("a.parquet"))?;
    let o = train(&args_with_data(&s, &s.run_dir("run"), 2, &shards), &[]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("none of the 2 parquet shard(s) could be used"),
        "{t}"
    );
    Ok(())
}

/// The Hub's arguments in place of the data folder, with a Hub that cannot be reached and a
/// cache in `home`.
fn hub_run(s: &Setup, run: &Path, home: &Path) -> std::process::Output {
    let mut args = args_with_data(s, run, 4, Path::new("unused"));
    args.extend(["--hf-dataset", "someone/photos"].map(String::from));
    let home = home.display().to_string();
    train(
        &args,
        &[("HF_ENDPOINT", "http://127.0.0.1:9"), ("HF_HOME", &home)],
    )
}

#[test]
fn hf_dataset_offline_fails_clearly_or_uses_the_cache() -> anyhow::Result<()> {
    let s = setup(4);
    let home = s.dir.path().join("hf");
    let o = hub_run(&s, &s.run_dir("none"), &home);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("cannot reach the Hugging Face Hub to fetch someone/photos ("),
        "{t}"
    );
    assert!(t.contains("hint: connect to the network"), "{t}");

    // The cache as hf-hub leaves it: the parquet revision's ref, a snapshot of links to blobs.
    let repo = home.join("hub/datasets--someone--photos");
    let commit = "0123456789abcdef0123456789abcdef01234567";
    std::fs::create_dir_all(repo.join("refs/refs/convert"))?;
    std::fs::write(repo.join("refs/refs/convert/parquet"), commit)?;
    let snapshot = repo.join("snapshots").join(commit);
    std::fs::create_dir_all(snapshot.join("default/train"))?;
    std::fs::create_dir_all(snapshot.join("default/test"))?;
    std::fs::create_dir_all(repo.join("blobs"))?;
    let rows: Vec<_> = walk(&s.photos)
        .iter()
        .map(|p| std::fs::read(p).ok())
        .collect();
    write_shard(
        &repo.join("blobs/aaaa"),
        vec![("image", image_column(&rows))],
        2,
    )?;
    write_shard(&repo.join("blobs/bbbb"), vec![("id", id_column(1))], 2)?;
    std::os::unix::fs::symlink(
        "../../../../blobs/aaaa",
        snapshot.join("default/train/0000.parquet"),
    )?;
    // A test split the run must not read (it has no images, so reading it would fail).
    std::os::unix::fs::symlink(
        "../../../../blobs/bbbb",
        snapshot.join("default/test/0000.parquet"),
    )?;

    let run = s.run_dir("cached");
    let o = hub_run(&s, &run, &home);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("training on the 1 shard(s) of someone/photos (train) found in its cache"),
        "{t}"
    );
    assert!(!t.contains("skipping shard"), "{t}");
    assert!(run.join("model.safetensors").is_file());

    // Resuming with HF_HUB_OFFLINE goes straight to the cache, finds the same shards, so the
    // same photo set.
    let o = train(
        &resume_args(&run, 6),
        &[
            ("HF_HUB_OFFLINE", "1"),
            ("HF_HOME", &home.display().to_string()),
        ],
    );
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("HF_HUB_OFFLINE is set: training on the 1 shard(s)"),
        "{t}"
    );
    assert!(!t.contains("cannot reach"), "{t}");
    assert!(!t.contains("changed since the run started"), "{t}");
    Ok(())
}

/// A stand-in for the Hub on a local port: the dataset's parquet listing and file downloads
/// (HEAD and GET, with the headers hf-hub reads), and a log of the paths asked for.
struct FakeHub {
    endpoint: String,
    requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

fn fake_hub(repo: &str, files: Vec<(String, Vec<u8>)>) -> anyhow::Result<FakeHub> {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let endpoint = format!("http://{}", listener.local_addr()?);
    let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = requests.clone();
    let commit = "89abcdef0123456789abcdef0123456789abcdef";
    let siblings: Vec<String> = files
        .iter()
        .map(|(name, _)| format!("{{\"rfilename\":\"{name}\"}}"))
        .collect();
    let info = format!(
        "{{\"id\":\"{repo}\",\"sha\":\"{commit}\",\"siblings\":[{}]}}",
        siblings.join(",")
    );
    let info_path = format!("/api/datasets/{repo}/revision/refs%2Fconvert%2Fparquet");
    let file_prefix = format!("/datasets/{repo}/resolve/refs%2Fconvert%2Fparquet/");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(&stream);
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let mut parts = request.split_whitespace();
            let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            log.lock().unwrap().push(format!("{method} {path}"));
            let (status, headers, body): (&str, String, Vec<u8>) = if path == info_path {
                (
                    "200 OK",
                    "Content-Type: application/json\r\n".into(),
                    info.clone().into_bytes(),
                )
            } else if let Some((i, (_, bytes))) = path
                .strip_prefix(&file_prefix)
                .and_then(|f| files.iter().enumerate().find(|(_, (n, _))| n == f))
            {
                let headers = format!("ETag: \"etag{i:04}\"\r\nX-Repo-Commit: {commit}\r\n");
                ("200 OK", headers, bytes.clone())
            } else {
                ("404 Not Found", String::new(), Vec::new())
            };
            let mut out = &stream;
            let head = format!(
                "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = out.write_all(head.as_bytes());
            if method != "HEAD" {
                let _ = out.write_all(&body);
            }
        }
    });
    Ok(FakeHub { endpoint, requests })
}

#[test]
fn hf_dataset_downloads_one_split_into_the_cache_and_trains_on_it() -> anyhow::Result<()> {
    let s = setup(5);
    let dir = tempfile::tempdir()?;
    let shard = |name: &str, rows: &[Option<Vec<u8>>]| -> anyhow::Result<Vec<u8>> {
        let p = dir.path().join(name);
        write_shard(
            &p,
            vec![("id", id_column(rows.len())), ("image", image_column(rows))],
            2,
        )?;
        Ok(std::fs::read(p)?)
    };
    let photos: Vec<_> = walk(&s.photos)
        .iter()
        .map(|p| std::fs::read(p).ok())
        .collect();
    let files = vec![
        (
            "default/test/0000.parquet".to_string(),
            shard("t", &photos[..1])?,
        ),
        (
            "default/train/0000.parquet".to_string(),
            shard("a", &photos[..3])?,
        ),
        (
            "default/train/0001.parquet".to_string(),
            shard("b", &photos[3..])?,
        ),
    ];
    let hub = fake_hub("someone/photos", files)?;
    let home = s.dir.path().join("hf");
    let envs = [
        ("HF_ENDPOINT", hub.endpoint.as_str()),
        ("HF_HOME", home.to_str().unwrap_or(".")),
    ];
    let mut args = args_with_data(&s, &s.run_dir("run"), 4, Path::new("unused"));
    args.extend(["--hf-dataset", "someone/photos"].map(String::from));
    let o = train(&args, &envs);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("2 parquet shard(s) of someone/photos (train)"),
        "{t}"
    );
    assert!(
        t.contains("downloading shard 2/2 default/train/0001.parquet"),
        "{t}"
    );
    assert!(t.contains("5 photos"), "{t}");
    let asked = hub.requests.lock().unwrap().clone();
    assert!(
        asked
            .iter()
            .any(|r| r.starts_with("GET ") && r.ends_with("train/0001.parquet")),
        "{asked:?}"
    );
    assert!(
        !asked.iter().any(|r| r.contains("/test/")),
        "the test split stays on the Hub: {asked:?}"
    );
    let cached = home.join("hub/datasets--someone--photos/snapshots/89abcdef0123456789abcdef0123456789abcdef/default/train/0001.parquet");
    assert!(cached.is_file(), "downloaded into hf-hub's cache");

    // A second run asks only for the listing: the shards come from the cache.
    let before = asked.len();
    let mut args = args_with_data(&s, &s.run_dir("again"), 2, Path::new("unused"));
    args.extend(["--hf-dataset", "someone/photos"].map(String::from));
    let o = train(&args, &envs);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(!t.contains("downloading"), "{t}");
    let asked = hub.requests.lock().unwrap().clone();
    assert_eq!(asked.len() - before, 1, "{:?}", &asked[before..]);

    // A split the dataset does not have, and a dataset the Hub does not have: each is named,
    // with what to do.
    let hub_args = |dataset: &str, split: &str| {
        let mut args = args_with_data(&s, &s.run_dir("bad"), 2, Path::new("unused"));
        args.extend(["--hf-dataset", dataset, "--hf-split", split].map(String::from));
        args
    };
    let o = train(&hub_args("someone/photos", "validation"), &envs);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("someone/photos has no parquet shards for split `validation`")
            && t.contains("the splits test, train")
            && t.contains("hint: set hf_split"),
        "{t}"
    );
    let o = train(&hub_args("someone/missing", "train"), &envs);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("the Hugging Face Hub refused someone/missing") && t.contains("hint:"),
        "{t}"
    );
    Ok(())
}
