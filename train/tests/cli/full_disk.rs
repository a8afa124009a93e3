//! A training run whose checkpoint does not fit on the disk (its run folder on a 32 MiB tmpfs,
//! mounted in a private namespace by `unshare`): it stops with exit 1, says the last good
//! checkpoint is kept, leaves no partial file, and that checkpoint resumes once there is room.
#![cfg(target_os = "linux")]

use fauve_tests::hostile::on_small_disk;

use super::{resume_args, setup, text, train, FAUVE_TRAIN};

#[test]
fn a_checkpoint_that_does_not_fit_keeps_the_last_good_one() -> anyhow::Result<()> {
    let s = setup(3);
    let run = s.run_dir("run");
    std::fs::create_dir(&run)?;
    let saved = s.run_dir("saved");
    // A checkpoint (weights and Adam's two moments) is about 20 MB: the first fits in 32 MiB,
    // the second does not.
    let args: Vec<String> = s.args(&run, 8).iter().map(|a| format!("'{a}'")).collect();
    let script = format!(
        "'{train}' {args}; code=$?; ls -a '{run}/checkpoints'; cp -r '{run}' '{saved}'; exit $code",
        run = run.display(),
        train = FAUVE_TRAIN,
        args = args.join(" "),
        saved = saved.display(),
    );
    let o = on_small_disk(&run, "32m", &script);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("no space left on device"), "{t}");
    assert!(
        t.contains("the checkpoint of step 8 was not written; the last good checkpoint")
            && t.contains("step-00000004.safetensors, is kept"),
        "{t}"
    );
    let listing = String::from_utf8_lossy(&o.stdout);
    assert!(listing.contains("step-00000004.safetensors"), "{t}");
    assert!(!listing.contains("partial"), "{t}");
    // With room again, the kept checkpoint resumes and finishes the run.
    let o = train(&resume_args(&saved, 8), &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(saved.join("model.safetensors").exists());
    Ok(())
}
