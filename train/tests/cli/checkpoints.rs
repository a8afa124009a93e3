//! Checkpoint pruning keeps what a resume needs (issue 37, finding 2).

use super::{checkpoint_names, resume_args, setup, text, train};

/// A damaged checkpoint with a higher step than the run's (skipped by resume) must never
/// outlive the checkpoints written after it: pruning used to rank files by step number and
/// deleted the one it had just written.
#[test]
fn a_damaged_later_checkpoint_never_costs_the_new_ones() -> anyhow::Result<()> {
    let s = setup(4);
    let run = s.run_dir("run");
    let keep_one = |mut args: Vec<String>| {
        args.extend(["--checkpoint-every", "1", "--keep-checkpoints", "1"].map(String::from));
        args
    };
    let o = train(&keep_one(s.args(&run, 2)), &[]);
    assert!(o.status.success(), "{}", text(&o));
    let garbage = run.join("checkpoints/step-00000009.safetensors");
    std::fs::write(&garbage, b"not a checkpoint")?;

    let o = train(&keep_one(resume_args(&run, 4)), &[]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("resuming at step 2"), "{t}");
    let names = checkpoint_names(&run);
    assert!(
        names.iter().any(|n| n == "step-00000004.safetensors"),
        "the newest checkpoint was pruned: {names:?}"
    );
    // The damaged file is kept aside for inspection, out of resume's way.
    assert!(!garbage.exists(), "{names:?}");
    assert!(
        names
            .iter()
            .any(|n| n == "step-00000009.safetensors.damaged"),
        "{names:?}"
    );
    // And a further resume continues from step 4.
    let o = train(&keep_one(resume_args(&run, 5)), &[]);
    assert!(text(&o).contains("resuming at step 4"), "{}", text(&o));
    Ok(())
}
