//! `fauve-train`: not built yet (see the project's issues); it only says so.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!("fauve-train is not built yet: training arrives with the training issue");
    ExitCode::FAILURE
}
