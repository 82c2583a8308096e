//! Encoding whole collections: a folder of recordings in, one event file per
//! recording out, with nothing lost if anything goes wrong.
//!
//! [`plan`] walks the folder (in sorted order), keeps the audio files
//! (`.wav`, `.flac`, `.ogg`, `.mp3`) of this job's [`Shard`], and mirrors the
//! folder structure under the output folder. [`encode_collection`] runs the
//! plan through a pipeline of threads:
//!
//! - **decoders** read, down-mix and resample files on CPU threads ahead of
//!   the encoders, admitted by a budget of host memory for decoded audio, so
//!   the next files are ready when an encoder frees up;
//! - **encoders** (`jobs` files in flight) run the [`Encoder`] stages, write
//!   each list to a temporary name and rename it, and measure it;
//! - on the GPU, every encoder's scoring rounds go to one
//!   [`ScoreService`](crate::encode::batch::ScoreService), which records the rounds waiting from several
//!   files into one submission and overlaps the next batch's uploads with
//!   the current batch's compute;
//! - the calling thread collects the results, appends each to the **journal**
//!   (`journal.jsonl`, one JSON line per finished file, flushed at once) and
//!   reports progress.
//!
//! A re-run skips every file whose output already exists and reads back
//! whole (outputs only ever appear by rename), so a killed run resumes where
//! it stopped; `force` re-encodes everything. A file that cannot be decoded
//! or encoded is reported in the summary with its error and the others go
//! on. A GPU error on a file is retried once with half-length segments
//! (less GPU memory) before the file is reported; if the device is lost, the
//! files not yet started are reported as not run, and everything finished
//! stays on disk.

mod journal;
mod plan;
mod run;

pub use journal::summary_csv;
use journal::{
    append_journal, done_before, open_journal, read_journal, remove_stale_temporaries,
    write_summaries,
};
pub use plan::{AUDIO_EXTENSIONS, Item, Plan, Shard, plan};
use run::{MemoryBudget, Run};

use super::batch::BatchStats;
use super::{Backend, EncodeOptions, Encoder};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::time::Instant;

/// How a collection is encoded.
#[derive(Clone, Debug)]
pub struct CollectionOptions {
    pub encode: EncodeOptions,
    /// Files encoded at once (their scoring rounds share GPU submissions).
    pub jobs: usize,
    /// Threads decoding ahead of the encoders.
    pub decoders: usize,
    /// Bytes of decoded audio held at once (files waiting and in flight); a
    /// file bigger than the whole budget is still encoded, alone.
    pub memory_budget: u64,
    /// Re-encode files whose outputs exist.
    pub force: bool,
    /// Render each written file and measure it against its input.
    pub metrics: bool,
}

impl Default for CollectionOptions {
    fn default() -> Self {
        CollectionOptions {
            encode: EncodeOptions::default(),
            jobs: 4,
            decoders: 2,
            memory_budget: 2 << 30,
            force: false,
            metrics: true,
        }
    }
}

/// What became of one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Encoded by this run.
    Encoded,
    /// Its output was already there (an earlier run): left as it was.
    AlreadyDone,
    /// Could not be decoded or encoded: see the error.
    Failed,
    /// Not started: the run stopped first (the GPU was lost).
    NotRun,
}

/// One line of the summary (and of the journal).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FileRow {
    /// The input, relative to the input folder.
    pub input: PathBuf,
    pub output: PathBuf,
    pub status: Status,
    pub error: Option<String>,
    /// Seconds of audio.
    pub seconds: f64,
    pub events: usize,
    pub bytes: u64,
    pub kbps: f64,
    pub mel_distance: Option<f64>,
    pub stft_distance: Option<f64>,
    pub lsd_db: Option<f64>,
    /// Seconds this file took: decoding, encoding, writing and measuring
    /// (not the time it waited for an encoder).
    pub encode_seconds: f64,
    /// `seconds / encode_seconds`.
    pub realtime_factor: f64,
    /// The encoding options, so a re-run can tell stale outputs.
    pub options: String,
}

impl FileRow {
    fn empty(item: &Item, status: Status, options: &str) -> Self {
        FileRow {
            input: item.relative.clone(),
            output: item.output.clone(),
            status,
            error: None,
            seconds: 0.0,
            events: 0,
            bytes: 0,
            kbps: 0.0,
            mel_distance: None,
            stft_distance: None,
            lsd_db: None,
            encode_seconds: 0.0,
            realtime_factor: 0.0,
            options: options.to_string(),
        }
    }

    fn failed(item: &Item, error: &Error, options: &str) -> Self {
        FileRow {
            error: Some(error.to_string()),
            ..FileRow::empty(item, Status::Failed, options)
        }
    }
}

/// What a collection run did.
#[derive(Clone, Debug, Serialize)]
pub struct CollectionReport {
    /// One row per file of the plan, in plan order.
    pub files: Vec<FileRow>,
    pub encoded: usize,
    pub already_done: usize,
    pub failed: usize,
    pub not_run: usize,
    /// Seconds of audio encoded by this run.
    pub audio_seconds: f64,
    pub wall_seconds: f64,
    /// Audio seconds encoded per wall second.
    pub realtime_factor: f64,
    /// Share of the run's wall time with no GPU work in flight (GPU only).
    pub gpu_idle_fraction: Option<f64>,
    /// How scoring rounds were batched (GPU only).
    pub batching: Option<BatchStats>,
    pub device: String,
    pub jobs: usize,
}

/// Encodes every item of `plan`, calling `observe` as each file finishes
/// (from the calling thread), and writes the summaries. Fails only when the
/// run cannot start or the journal or summaries cannot be written; each
/// file's failure is in its row.
pub fn encode_collection(
    backend: Backend,
    plan: &Plan,
    options: &CollectionOptions,
    observe: &mut dyn FnMut(&FileRow),
) -> Result<CollectionReport> {
    Encoder::new(backend, &options.encode)?; // bad options fail before any work
    std::fs::create_dir_all(&plan.output_dir).map_err(|e| Error::io(&plan.output_dir, e))?;
    let clock = Instant::now();
    let busy_before = gpu_busy(backend);
    let fingerprint = format!("{:?}", options.encode);
    let journal = read_journal(&plan.journal_path());
    let mut rows: Vec<Option<FileRow>> = vec![None; plan.items.len()];
    let mut todo = Vec::new();
    remove_stale_temporaries(&plan.items);
    for (i, item) in plan.items.iter().enumerate() {
        match done_before(item, &journal, &fingerprint, options.force) {
            Some(row) => rows[i] = Some(row),
            None => todo.push(i),
        }
    }
    for row in rows.iter().flatten() {
        observe(row);
    }
    let mut journal_file = open_journal(&plan.journal_path())?;
    let run = Run {
        backend,
        plan,
        options,
        fingerprint: &fingerprint,
        todo: &todo,
        next: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        memory: MemoryBudget::new(options.memory_budget),
    };
    let batching = run.execute(&mut |i, row| {
        append_journal(&mut journal_file, &row, &plan.journal_path())?;
        observe(&row);
        rows[i] = Some(row);
        Ok(())
    })?;
    let files: Vec<FileRow> = rows
        .into_iter()
        .zip(&plan.items)
        .map(|(row, item)| {
            row.unwrap_or_else(|| FileRow::empty(item, Status::NotRun, &fingerprint))
        })
        .collect();
    let wall_seconds = clock.elapsed().as_secs_f64();
    let count = |s: Status| files.iter().filter(|r| r.status == s).count();
    let audio_seconds: f64 = files
        .iter()
        .filter(|r| r.status == Status::Encoded)
        .map(|r| r.seconds)
        .sum();
    let report = CollectionReport {
        encoded: count(Status::Encoded),
        already_done: count(Status::AlreadyDone),
        failed: count(Status::Failed),
        not_run: count(Status::NotRun),
        audio_seconds,
        wall_seconds,
        realtime_factor: audio_seconds / wall_seconds.max(1e-9),
        gpu_idle_fraction: busy_before.map(|before| {
            let busy = gpu_busy(backend).unwrap_or(before) - before;
            (1.0 - busy / wall_seconds.max(1e-9)).clamp(0.0, 1.0)
        }),
        batching,
        device: match backend {
            Backend::Gpu(ctx) => ctx.summary().name.clone(),
            Backend::Cpu => "the CPU".to_string(),
        },
        jobs: options.jobs,
        files,
    };
    write_summaries(plan, &report)?;
    Ok(report)
}

fn gpu_busy(backend: Backend) -> Option<f64> {
    match backend {
        Backend::Gpu(ctx) => Some(ctx.busy_seconds()),
        Backend::Cpu => None,
    }
}
