//! The training loop: transform network trainable, VGG16 frozen, Adam; with checkpoints,
//! resume, TensorBoard, samples, progress, and a clean stop on Ctrl-C or a non-finite loss.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Module, Tensor, Var};
use fauve::{ModelMetadata, StyleEntry, Stylizer};
use image::DynamicImage;

use crate::adam::Adam;
use crate::checkpoint::{self, Checkpoint, TrainState};
use crate::config::TrainConfig;
use crate::data::{BatchLoader, DataPosition, LoaderConfig, PhotoSet};
use crate::evaluate::EvalSet;
use crate::init::seeded_init;
use crate::perceptual::{LossMeans, LossValues, PerceptualLoss};
use crate::progress::Progress;
use crate::resume_state::{checkpoint_tensors, restore};
pub use crate::run_checks::Options;
use crate::run_checks::{check_architecture, check_new_names, check_resume};
use crate::run_inputs::{InputHashes, STYLE_KEY, VGG_KEY};
use crate::style_schedule::style_at;
use crate::tensorboard::Tensorboard;
use crate::trainable::Trainable;

/// The trained model's file name in the run folder.
pub const MODEL_FILE: &str = "model.safetensors";

/// How a run ended without an error.
pub enum Outcome {
    Finished { model: PathBuf },
    Interrupted { checkpoint: PathBuf, step: usize },
}

/// Whether every value of every tensor is finite (`t - t` is 0 for finite values and NaN for
/// infinities and NaNs, so one sum per tensor tells, without overflow).
fn all_finite<'a>(tensors: impl IntoIterator<Item = &'a Tensor>) -> Result<bool> {
    for t in tensors {
        let s = t
            .sub(t)?
            .sum_all()?
            .to_dtype(DType::F64)?
            .to_scalar::<f64>()?;
        if !s.is_finite() {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The end of the message when training diverged: where the last good state is and what to do.
fn divergence_hint(cfg: &TrainConfig, last_checkpoint: Option<&Path>) -> String {
    format!(
        "last good checkpoint: {}\nhint: resume from it with a lower learning rate (fauve-train --resume {} --lr {:e}), or start over with a new --run-dir and a lower --lr or --style-weight",
        last_checkpoint.map_or("none yet".into(), |p| p.display().to_string()),
        cfg.run_dir().display(),
        cfg.lr / 10.0
    )
}

/// Runs (or resumes) training as configured. `interrupted` is set by the Ctrl-C handler.
pub fn train(
    cfg: &TrainConfig,
    resume: Option<Checkpoint>,
    options: Options,
    interrupted: Arc<AtomicBool>,
) -> Result<Outcome> {
    let mut run = Run::set_up(cfg, resume, options)?;
    let stopped = run.steps(&interrupted);
    run.progress.finish();
    match stopped? {
        Some(outcome) => Ok(outcome),
        None => run.finish(),
    }
}

/// Throughput and loss averages between log lines, and over the session.
struct Stats {
    means: LossMeans,
    /// The means of the last completed log interval (the model's "final losses").
    last: LossMeans,
    /// The same per painting, for multi-style runs.
    style_means: Vec<LossMeans>,
    style_last: Vec<LossMeans>,
    interval_start: Instant,
    interval_images: usize,
    wait_secs: f64,
    decode_secs: f64,
    start: Instant,
}

/// A run in progress: everything set up, and where it stands.
struct Run<'a> {
    cfg: &'a TrainConfig,
    device: Device,
    photos: usize,
    net: Trainable,
    vars: HashMap<String, Var>,
    /// The names of the paintings this run trains, in the loss's order.
    style_names: Vec<String>,
    adam: Adam,
    loss: PerceptualLoss,
    loader: BatchLoader,
    workers: usize,
    tb: Tensorboard,
    progress: Progress,
    /// The photo stylized at each sample interval.
    sample: DynamicImage,
    /// Held-out photos scored every `eval_every` steps.
    eval: Option<EvalSet>,
    state: TrainState,
    start_step: usize,
    total_steps: usize,
    run_dir: PathBuf,
    ckpt_dir: PathBuf,
    samples_dir: PathBuf,
    last_checkpoint: Option<PathBuf>,
    stats: Stats,
}

impl<'a> Run<'a> {
    /// Checks and loads every input (everything that can be wrong with them fails here,
    /// before any compute), prepares the run folder, builds the model and optimizer, fresh or
    /// from the checkpoint, starts the photo loader and says what is about to happen.
    fn set_up(cfg: &'a TrainConfig, resume: Option<Checkpoint>, options: Options) -> Result<Self> {
        let device = fauve::parse_device(&cfg.device)?;
        let set = Arc::new(photo_set(cfg)?);
        for (path, why) in &set.skipped_shards {
            eprintln!("warning: skipping shard {}: {why}", path.display());
        }
        let fingerprint = set.fingerprint().to_string();
        let inputs = InputHashes::of(cfg)?;
        if let Some(ckpt) = &resume {
            check_resume(ckpt, &fingerprint, &inputs, cfg, options)?;
        }
        let loss = PerceptualLoss::from_config(cfg, &device)?;
        let sample = sample_photo(cfg, &set)?;

        let photos = set.photos();
        let steps_per_epoch = photos.div_ceil(cfg.batch_size);
        let total_steps = cfg.steps.unwrap_or(cfg.epochs * steps_per_epoch);

        let config_toml = cfg.to_toml()?;
        let (run_dir, ckpt_dir, samples_dir) =
            prepare_run_folder(cfg, resume.is_some(), &config_toml)?;

        let net = trainable(cfg, &loss, &device)?;
        let vars = net.vars().clone();
        let style_names = cfg.style_names_resolved();
        let mut adam = Adam::new(vars.clone().into_iter().collect(), cfg.lr)?;
        let mut state = TrainState {
            step: 0,
            data: DataPosition::default(),
            bad_files: Default::default(),
            config_toml,
            data_fingerprint: Some(fingerprint.clone()),
            inputs: Some(inputs),
        };
        if let Some(ckpt) = &resume {
            restore(ckpt, &vars, &mut adam, &mut state, &device)?;
        }
        if state.step >= total_steps {
            bail!(
                "the run is already at step {} of {total_steps}\n\nhint: resume with a larger --steps to train further",
                state.step
            );
        }

        let (loader, workers) = start_loader(cfg, set, &state)?;
        let tb = Tensorboard::open(&run_dir.join("tb"));
        let eval = eval_set(cfg, &loss, &device)?;

        announce(
            cfg,
            photos,
            total_steps,
            &device,
            &loss,
            &state,
            resume.is_some(),
        );
        let n = style_names.len();
        Ok(Self {
            cfg,
            device,
            photos,
            net,
            vars,
            style_names,
            adam,
            loss,
            loader,
            workers,
            tb,
            progress: Progress::new(state.step, total_steps),
            sample,
            eval,
            start_step: state.step,
            state,
            total_steps,
            run_dir,
            ckpt_dir,
            samples_dir,
            last_checkpoint: resume.map(|c| c.path),
            stats: Stats::new(n),
        })
    }

    /// Scores the network on the held-out photos, if any, into TensorBoard's eval/ curves
    /// (for several paintings, each style's under eval/NAME/ and their mean under eval/).
    fn evaluate(&mut self) -> Result<()> {
        let Some(set) = &self.eval else {
            return Ok(());
        };
        let step = self.state.step;
        let mut all = LossMeans::default();
        let many = self.style_names.len() > 1;
        for (style, name) in self.style_names.iter().enumerate() {
            let net = self.net.network(style)?;
            let loss = &self.loss;
            let result = set.evaluate_style(loss, style, |x| Ok(net.forward(x)?))?;
            let m = result.mean;
            all.add(&m);
            if many {
                self.tb
                    .scalar(&format!("eval/{name}/content"), m.content, step);
                self.tb.scalar(&format!("eval/{name}/style"), m.style, step);
                self.tb.scalar(&format!("eval/{name}/total"), m.total, step);
                self.progress.println(format!(
                    "eval at step {step} of {name} on {} held-out photos: {m}",
                    set.len()
                ));
            }
        }
        let m = all.mean();
        self.tb.scalar("eval/content", m.content, step);
        self.tb.scalar("eval/style", m.style, step);
        self.tb.scalar("eval/total", m.total, step);
        let what = if many { " (mean of the styles)" } else { "" };
        self.progress.println(format!(
            "eval at step {step} on {} held-out photos{what}: {m}",
            set.len()
        ));
        Ok(())
    }

    /// Trains until the last step (None) or until interrupted, after writing a checkpoint.
    fn steps(&mut self, interrupted: &AtomicBool) -> Result<Option<Outcome>> {
        while self.state.step < self.total_steps {
            if interrupted.load(Ordering::SeqCst) {
                let checkpoint = self.checkpoint()?;
                return Ok(Some(Outcome::Interrupted {
                    checkpoint,
                    step: self.state.step,
                }));
            }
            let losses = self.step()?;
            if self.time_is_up() {
                // The run ends here as if this were its last step.
                self.progress.println(format!(
                    "max_minutes ({}) reached at step {}: finishing the run here",
                    self.cfg.max_minutes.unwrap_or_default(),
                    self.state.step
                ));
                self.total_steps = self.state.step;
                self.progress.set_total(self.total_steps);
            }
            self.report(losses);
            let (step, last) = (self.state.step, self.state.step == self.total_steps);
            if self.cfg.sample_every > 0 && (step % self.cfg.sample_every == 0 || last) {
                self.write_sample()?;
            }
            if step % self.cfg.eval_every == 0 || last {
                self.evaluate()?;
            }
            if step % self.cfg.checkpoint_every == 0 || last {
                let path = self.checkpoint()?;
                if !last {
                    self.progress
                        .println(format!("checkpoint {}", path.display()));
                }
            }
        }
        Ok(None)
    }

    /// Whether this session has trained for `max_minutes`.
    fn time_is_up(&self) -> bool {
        self.cfg
            .max_minutes
            .is_some_and(|m| self.stats.start.elapsed().as_secs_f64() >= m * 60.0)
    }

    /// One optimizer step on the next batch; a non-finite loss stops the run before the update.
    fn step(&mut self) -> Result<LossValues> {
        let wait = Instant::now();
        let batch = self.loader.next_batch()?;
        self.stats.wait_secs += wait.elapsed().as_secs_f64();
        self.stats.decode_secs += batch.decode_secs;
        for (name, why) in &batch.skipped {
            self.progress
                .println(format!("warning: skipping {name}: {why}"));
        }
        self.state.bad_files = batch.bad_files;
        let s = batch.image_size;
        let x = Tensor::from_vec(batch.data, (batch.batch_size, 3, s, s), &self.device)?;

        let style = self.style_now();
        let y = self.net.network(style)?.forward(&x)?;
        let terms = self.loss.compute_style(&y, &x, style)?;
        let losses = LossValues::of(&terms)?;
        if !losses.total.is_finite() {
            bail!(
                "the loss became non-finite at step {}{} (content {}, style {}, tv {}); stopping without saving this state\n\n{}",
                self.state.step + 1,
                self.style_label(style),
                losses.content,
                losses.style,
                losses.tv,
                divergence_hint(self.cfg, self.last_checkpoint.as_deref()),
            );
        }
        let grads = terms.total.backward()?;
        self.adam.step(&grads)?;
        self.state.step += 1;
        self.state.data = batch.after;
        let stats = &mut self.stats;
        stats.means.add(&losses);
        stats.style_means[style].add(&losses);
        stats.interval_images += batch.batch_size;
        Ok(losses)
    }

    /// The painting the next step trains.
    fn style_now(&self) -> usize {
        let n = self.style_names.len();
        style_at(self.cfg.style_order(), self.cfg.seed, self.state.step, n)
    }

    /// ` (style NAME)` in a multi-style run, else nothing.
    fn style_label(&self, style: usize) -> String {
        match self.style_names.len() {
            1 => String::new(),
            _ => format!(" (style {})", self.style_names[style]),
        }
    }

    /// The progress line after every step; TensorBoard scalars every `log_every` steps.
    fn report(&mut self, losses: LossValues) {
        let step = self.state.step;
        let log_now = step % self.cfg.log_every == 0 || step == self.total_steps;
        let secs = self.stats.interval_start.elapsed().as_secs_f64();
        let images_per_sec = self.stats.interval_images as f64 / secs.max(1e-9);
        let LossValues {
            content: c,
            style: st,
            total,
            ..
        } = losses;
        let trained = style_at(
            self.cfg.style_order(),
            self.cfg.seed,
            step - 1,
            self.style_names.len(),
        );
        self.progress.update(
            step,
            &format!(
                "epoch {}{} | content {c:.4e} style {st:.4e} total {total:.4e} | {images_per_sec:.2} img/s",
                self.state.data.epoch + 1,
                self.style_label(trained),
            ),
            log_now,
        );
        if !log_now {
            return;
        }
        let LossValues {
            content: mc,
            style: ms,
            tv: mtv,
            total: mt,
        } = self.stats.means.mean();
        let tb = &mut self.tb;
        tb.scalar("loss/content", mc, step);
        tb.scalar("loss/style", ms, step);
        if self.loss.weights().tv > 0.0 {
            tb.scalar("loss/tv", mtv, step);
        }
        tb.scalar("loss/total", mt, step);
        if self.style_names.len() > 1 {
            for (name, m) in self.style_names.iter().zip(&self.stats.style_means) {
                if m.count() == 0 {
                    continue;
                }
                let m = m.mean();
                tb.scalar(&format!("loss/{name}/content"), m.content, step);
                tb.scalar(&format!("loss/{name}/style"), m.style, step);
                tb.scalar(&format!("loss/{name}/total"), m.total, step);
            }
        }
        tb.scalar("perf/images_per_sec", images_per_sec, step);
        tb.scalar("train/lr", self.adam.lr(), step);
        tb.scalar(
            "data/skipped_files",
            self.state.bad_files.len() as f64,
            step,
        );
        let stats = &mut self.stats;
        stats.last = stats.means;
        stats.means = LossMeans::default();
        for (last, means) in stats.style_last.iter_mut().zip(&mut stats.style_means) {
            if means.count() > 0 {
                *last = std::mem::take(means);
            }
        }
        stats.interval_start = Instant::now();
        stats.interval_images = 0;
    }

    /// Stylizes the sample photo with the current weights into samples/ and TensorBoard, in
    /// each style of a multi-style run (`step-N-NAME.png`, `sample/NAME`).
    fn write_sample(&mut self) -> Result<()> {
        let step = self.state.step;
        let many = self.style_names.len() > 1;
        for (style, name) in self.style_names.iter().enumerate() {
            let net = self.net.network(style)?;
            let stylizer = Stylizer::from_network(net, ModelMetadata::default(), &self.device);
            let img = stylizer.stylize(&self.sample)?;
            let (file, tag) = if many {
                let safe = fauve::file_name_safe(name);
                (
                    format!("step-{step:08}-{safe}.png"),
                    format!("sample/{name}"),
                )
            } else {
                (format!("step-{step:08}.png"), "sample".to_string())
            };
            if let Err(e) = fauve::save_image(&img, &self.samples_dir.join(file)) {
                self.progress
                    .println(format!("warning: cannot write sample: {e}"));
            }
            self.tb.image(&tag, &img, step);
        }
        self.tb.flush();
        Ok(())
    }

    /// Writes a checkpoint of the current state, never of non-finite weights or moments: a
    /// checkpoint must be a state worth resuming.
    fn checkpoint(&mut self) -> Result<PathBuf> {
        let last_good = self.last_checkpoint.as_deref();
        ensure_finite(&self.vars, &self.adam, self.state.step, self.cfg, last_good)?;
        let tensors = checkpoint_tensors(&self.vars, &self.adam);
        let path = checkpoint::save(
            &self.ckpt_dir,
            tensors,
            &self.state,
            self.cfg.keep_checkpoints,
        )
        .with_context(|| {
            format!(
                "the checkpoint of step {} was not written; the last good checkpoint, {}, is kept\n\nhint: free some space, then resume with fauve-train --resume {}",
                self.state.step,
                self.last_checkpoint
                    .as_deref()
                    .map_or("none yet".into(), |p| p.display().to_string()),
                self.cfg.run_dir().display()
            )
        })?;
        self.last_checkpoint = Some(path.clone());
        Ok(path)
    }

    /// The model file's metadata, with the training `summary`: one style, or the run's styles
    /// (after those of the model it extends).
    fn model_metadata(&self, summary: serde_json::Value, hashes: &InputHashes) -> ModelMetadata {
        let cfg = &self.cfg;
        let entries = self.net.styles(new_style_entries(cfg, hashes));
        let metadata = if entries.is_empty() {
            ModelMetadata::new(Some(cfg.style_name()), Some(summary))
        } else {
            let summary = crate::extend::whole_summary(summary, &entries, &self.net);
            // An extended model keeps its collection's name; a new one is named by the config.
            let name = match self.net.base_metadata() {
                Some(base) => base.style_name.clone(),
                None => Some(cfg.style_name()),
            };
            ModelMetadata::multi(name, entries, Some(summary))
        };
        metadata.with_architecture(self.net.architecture())
    }

    /// Writes the model file with its training summary and reports the session.
    fn finish(mut self) -> Result<Outcome> {
        self.tb.flush();
        let Self {
            cfg,
            state,
            stats,
            loss,
            ..
        } = &self;
        let weights = loss.weights();
        // The files as they were when the run started (and, resumed, as checked then).
        let hashes = state
            .inputs
            .clone()
            .context("the run lost its input hashes")?;
        let elapsed = stats.start.elapsed().as_secs_f64();
        let LossValues {
            content: fc,
            style: fs,
            tv: ftv,
            total: ft,
        } = stats.last.mean();
        let images = (self.total_steps - self.start_step) * cfg.batch_size;
        let summary = serde_json::json!({
            "config": toml::Value::try_from(cfg)?,
            "steps": self.total_steps,
            "epochs_completed": state.data.epoch,
            "final_losses": {"content": fc, "style": fs, "tv": ftv, "total": ft},
            "loss_weights": {"content": weights.content, "style": weights.style, "tv": weights.tv,
                             "style_layer_factors": loss.style_layer_factors()},
            (STYLE_KEY): hashes.style_image,
            (VGG_KEY): hashes.vgg,
            "vgg_preprocess": loss.preprocess().as_str(),
            "vgg_network": loss.vgg().info().net.as_str(),
            "skipped_files": state.bad_files.len(),
            "training_images": self.photos,
            "fauve_version": env!("CARGO_PKG_VERSION"),
        });
        let mut summary = summary;
        if self.style_names.len() > 1 {
            let per_style: serde_json::Map<String, serde_json::Value> = self
                .style_names
                .iter()
                .zip(&stats.style_last)
                .map(|(name, m)| {
                    let m = m.mean();
                    let v = serde_json::json!({"content": m.content, "style": m.style,
                                               "tv": m.tv, "total": m.total});
                    (name.clone(), v)
                })
                .collect();
            summary["final_losses_per_style"] = per_style.into();
        }
        // The checkpoint of the last step checked the weights are finite before this save.
        let tensors = self.net.model_tensors()?;
        let metadata = self.model_metadata(summary, &hashes);
        let model = self.run_dir.join(MODEL_FILE);
        fauve::save_model_file(&model, &tensors, &metadata)?;
        eprintln!(
            "done: {} steps in {:.0} s ({:.2} images/s this session; photo decoding {:.1} images/s on {} threads, training waited {:.1} s for data); {} unreadable photo(s) skipped; final losses: content {fc:.4e}, style {fs:.4e}, total {ft:.4e}",
            self.total_steps,
            elapsed,
            images as f64 / elapsed.max(1e-9),
            images as f64 / stats.decode_secs.max(1e-9),
            self.workers,
            stats.wait_secs,
            state.bad_files.len()
        );
        if !self.tb.is_active() {
            eprintln!("warning: TensorBoard events are incomplete (logging failed during the run)");
        }
        Ok(Outcome::Finished { model })
    }
}

impl Stats {
    fn new(styles: usize) -> Self {
        let now = Instant::now();
        Self {
            means: LossMeans::default(),
            last: LossMeans::default(),
            style_means: vec![LossMeans::default(); styles],
            style_last: vec![LossMeans::default(); styles],
            interval_start: now,
            interval_images: 0,
            wait_secs: 0.0,
            decode_secs: 0.0,
            start: now,
        }
    }
}

/// The photo stylized for samples: configured, else the first training photo, at least 256 px.
fn sample_photo(cfg: &TrainConfig, set: &PhotoSet) -> Result<image::DynamicImage> {
    let sample = match &cfg.sample_image {
        Some(p) => fauve::load_image(p).context("cannot load the sample image")?,
        None => set
            .first_photo()
            .unwrap_or_else(|| image::DynamicImage::new_rgb8(64, 64)),
    };
    Ok(fauve::resize_for_stylizing(
        &sample,
        None,
        Some(cfg.image_size.max(256) as u32),
    ))
}

/// What the run trains: a new network drawn from the seed for the loss's paintings, or a new
/// style's norm parameters on the model being extended (whose style names must not repeat).
fn trainable(cfg: &TrainConfig, loss: &PerceptualLoss, device: &Device) -> Result<Trainable> {
    let precision = cfg.precision()?;
    let net = match &cfg.extend {
        Some(base) => Trainable::extending(base, precision, device)?,
        None => {
            let net = Trainable::fresh(cfg.architecture()?, loss.n_styles(), precision, device)?;
            seeded_init(net.vars(), cfg.seed, device)?;
            net
        }
    };
    check_new_names(&net, &cfg.style_names_resolved())?;
    check_architecture(&net, cfg)?;
    Ok(net)
}

/// The photo loader from where `state` stands, and its number of worker threads.
fn start_loader(
    cfg: &TrainConfig,
    set: Arc<PhotoSet>,
    state: &TrainState,
) -> Result<(BatchLoader, usize)> {
    let workers = if cfg.workers == 0 {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    } else {
        cfg.workers
    };
    let loader = BatchLoader::start(
        set,
        LoaderConfig {
            batch_size: cfg.batch_size,
            image_size: cfg.image_size,
            seed: cfg.seed,
            random_crop: cfg.random_crop,
            workers,
            prefetch: cfg.prefetch,
        },
        state.data,
        state.bad_files.clone(),
    )?;
    Ok((loader, workers))
}

/// The held-out photos of `eval_dir`, if set.
fn eval_set(cfg: &TrainConfig, loss: &PerceptualLoss, device: &Device) -> Result<Option<EvalSet>> {
    let Some(dir) = &cfg.eval_dir else {
        return Ok(None);
    };
    let set = EvalSet::load(dir, cfg.image_size, loss, device)
        .with_context(|| format!("cannot load the eval photos in {}", dir.display()))?;
    Ok(Some(set))
}

/// The styles this run's paintings add to the model file, names and hashes in order.
fn new_style_entries(cfg: &TrainConfig, hashes: &InputHashes) -> Vec<StyleEntry> {
    let hashes: Vec<&str> = hashes.style_image.split(',').collect();
    cfg.style_names_resolved()
        .into_iter()
        .zip(cfg.style_paths())
        .enumerate()
        .map(|(i, (name, path))| StyleEntry {
            name,
            style_image_sha256: hashes.get(i).map(|h| h.to_string()),
            source: Some(path.display().to_string()),
        })
        .collect()
}

/// Creates the run folder with `checkpoints/` and `samples/` and writes the resolved
/// `config.toml`; refuses a folder holding another run's checkpoints unless resuming it.
fn prepare_run_folder(
    cfg: &TrainConfig,
    resuming: bool,
    config_toml: &str,
) -> Result<(PathBuf, PathBuf, PathBuf)> {
    let run_dir = cfg.run_dir();
    let ckpt_dir = run_dir.join("checkpoints");
    let model = run_dir.join(MODEL_FILE);
    if let Some(base) = cfg
        .extend
        .as_deref()
        .filter(|b| fauve::same_file(b, &model))
    {
        bail!(
            "the model to extend, {}, is this run's own output {}: the run would overwrite it\n\nhint: choose another --run-dir for the extended model",
            base.display(),
            model.display()
        );
    }
    if !resuming && model.exists() {
        bail!(
            "run folder {} already holds a trained model ({MODEL_FILE}), which a new run would overwrite\n\nhint: choose a new --run-dir, or move the model away to train again here",
            run_dir.display()
        );
    }
    if !resuming && !crate::checkpoint::list(&ckpt_dir).is_empty() {
        bail!(
            "run folder {} already holds checkpoints of an earlier run\n\nhint: continue it with `fauve-train --resume {}`, or choose a new --run-dir",
            run_dir.display(),
            run_dir.display()
        );
    }
    let samples_dir = run_dir.join("samples");
    for d in [&run_dir, &ckpt_dir, &samples_dir] {
        std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
    }
    fauve::atomic_write(&run_dir.join("config.toml"), config_toml.as_bytes())?;
    Ok((run_dir, ckpt_dir, samples_dir))
}

/// The line that says what is about to happen (and, when resuming, from where).
fn announce(
    cfg: &TrainConfig,
    photos: usize,
    total_steps: usize,
    device: &Device,
    loss: &PerceptualLoss,
    state: &TrainState,
    resuming: bool,
) {
    let steps_per_epoch = photos.div_ceil(cfg.batch_size);
    let precision = cfg.precision.as_str();
    let weights = loss.weights();
    eprintln!(
            "training `{}` on {} photos ({} steps of {} at {}px, {} epoch(s) ≈ {} steps each) on {}; weights content {:e}, style {:e}, tv {:e}; run folder {}",
            cfg.style_name(),
            photos,
            total_steps,
            cfg.batch_size,
            cfg.image_size,
            total_steps.div_ceil(steps_per_epoch),
            steps_per_epoch,
            if device.is_cpu() { "cpu".to_string() } else { format!("cuda, {precision}") },
            weights.content,
            weights.style,
            weights.tv,
            cfg.run_dir().display()
        );
    let factors = |style: usize| -> String {
        let each: Vec<String> = cfg
            .style_layers()
            .iter()
            .zip(loss.style_layer_factors_of(style))
            .map(|(l, f)| format!("{l} {f:.3e}"))
            .collect();
        each.join(", ")
    };
    eprintln!(
        "loss network: {} ({}), content {}; style layer factors (style_balance {}): {}",
        loss.vgg().info().net.as_str().to_uppercase(),
        cfg.vgg_path().display(),
        cfg.content_layer(),
        cfg.style_balance,
        factors(0)
    );
    let names = cfg.style_names_resolved();
    if names.len() > 1 {
        for (i, name) in names.iter().enumerate() {
            eprintln!("  style {i} {name}: {}", factors(i));
        }
    }
    if resuming {
        eprintln!(
            "resuming at step {} (epoch {}, photo {})",
            state.step,
            state.data.epoch + 1,
            state.data.position
        );
    }
}

/// Fails, naming the last good checkpoint, when the update of `step` left a non-finite weight
/// or Adam moment (a finite loss can still be followed by an update that overflows).
fn ensure_finite(
    vars: &HashMap<String, Var>,
    adam: &Adam,
    step: usize,
    cfg: &TrainConfig,
    last_good: Option<&Path>,
) -> Result<()> {
    let moments = adam.state();
    let tensors = vars
        .values()
        .map(Var::as_tensor)
        .chain(moments.iter().map(|(_, t)| t));
    if !all_finite(tensors)? {
        bail!(
            "the weights became non-finite in the update of step {step}; stopping without saving them\n\n{}",
            divergence_hint(cfg, last_good)
        );
    }
    Ok(())
}

/// The run's photos: the Hub dataset's shards, or the data folder's files and shards.
fn photo_set(cfg: &TrainConfig) -> Result<PhotoSet> {
    let column = cfg.image_column.as_deref();
    match &cfg.hf_dataset {
        #[cfg(feature = "hub")]
        Some(dataset) => {
            let shards = crate::data::hub::fetch(dataset, &cfg.hf_split)?;
            PhotoSet::from_files(&shards.root, shards.files, column)
                .with_context(|| format!("no usable photos in {dataset} ({})", cfg.hf_split))
        }
        #[cfg(not(feature = "hub"))]
        Some(_) => bail!(
            "hf_dataset needs the `hub` feature, which this fauve-train was built without\n\nhint: build it with its default features (cargo build --release -p fauve-train)"
        ),
        None => PhotoSet::from_folder(&cfg.data_dir, column),
    }
}
