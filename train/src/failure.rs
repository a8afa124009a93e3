//! How `fauve-train` fails: a usage error (exit 2) or a failed run (exit 1).

/// A failure and the exit code it gets: 2 for what the user typed or configured, 1 for
/// anything that went wrong while running.
pub(crate) enum Failure {
    Usage(anyhow::Error),
    Run(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Run(e)
    }
}
