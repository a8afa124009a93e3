//! The training side of Fauve: configuration, photo loading, the perceptual loss, Adam,
//! checkpoints and the training loop. `fauve-train` drives it from the command line and
//! `fauve-bench` times its training step.

pub mod adam;
pub mod checkpoint;
pub mod config;
pub mod data;
pub mod evaluate;
pub mod extend;
pub mod init;
pub mod loss_network;
pub mod perceptual;
pub mod preview;
pub mod progress;
pub mod resume_state;
pub mod run_checks;
pub mod run_inputs;
pub mod settings_args;
pub mod style_schedule;
pub mod tensorboard;
pub mod trainable;
pub mod trainer;
