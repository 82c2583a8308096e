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
//!   [`batch::ScoreService`], which records the rounds waiting from several
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

use super::batch::{self, BatchStats, ScoreClient};
use super::source::Streamed;
use super::{Backend, EncodeOptions, Encoder, WORKING_RATE};
use crate::audio;
use crate::error::{Error, Result};
use crate::events::{self, EventList, Form};
use crate::metrics;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Condvar, Mutex};
use std::time::Instant;

/// Extensions (lower case) of the files a collection encodes.
pub const AUDIO_EXTENSIONS: [&str; 4] = ["wav", "flac", "ogg", "mp3"];

/// One of `count` independent jobs: job `index` (from 0) owns the files
/// whose relative path hashes to `index` modulo `count`. The choice depends
/// only on the path, so every job agrees without talking to the others, and
/// adding files never moves the others between jobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl std::str::FromStr for Shard {
    type Err = Error;

    /// `I/N` with 0 <= I < N.
    fn from_str(text: &str) -> Result<Self> {
        let bad = || {
            Error::invalid(
                "shard",
                format!("{text:?}: give I/N with 0 <= I < N, e.g. 0/4 (I counts from 0)"),
            )
        };
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let index: u32 = i.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl Shard {
    /// Whether this shard owns the file at `relative` (to the input folder).
    pub fn owns(&self, relative: &Path) -> bool {
        path_hash(relative) % u64::from(self.count) == u64::from(self.index)
    }

    /// `-shard-I-of-N`, for the names of this shard's journal and summaries.
    fn suffix(&self) -> String {
        format!("-shard-{}-of-{}", self.index, self.count)
    }
}

/// FNV-1a (64 bit) of the path's components joined by `/`, so the same
/// collection hashes the same on every platform.
fn path_hash(relative: &Path) -> u64 {
    let text = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/");
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// One input and where its events go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub input: PathBuf,
    /// The input's path below the input folder.
    pub relative: PathBuf,
    pub output: PathBuf,
}

/// What a collection run will do.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub input_dir: PathBuf,
    pub output_dir: PathBuf,
    /// This shard's audio files, in sorted order.
    pub items: Vec<Item>,
    /// Audio files that other shards own.
    pub other_shards: usize,
    /// Files without an audio extension (not encoded, not reported as errors).
    pub ignored: usize,
    pub shard: Option<Shard>,
}

impl Plan {
    /// The journal of finished files.
    pub fn journal_path(&self) -> PathBuf {
        self.output_dir
            .join(format!("journal{}.jsonl", self.suffix()))
    }

    /// The summary, as `csv` or `json`.
    pub fn summary_path(&self, extension: &str) -> PathBuf {
        self.output_dir
            .join(format!("summary{}.{extension}", self.suffix()))
    }

    fn suffix(&self) -> String {
        self.shard.map(|s| s.suffix()).unwrap_or_default()
    }
}

/// The files of `input_dir` that `shard` owns (all of them without one), with
/// outputs mirrored under `output_dir` (`.splat`, or `.json` for the JSON form).
pub fn plan(input_dir: &Path, output_dir: &Path, form: Form, shard: Option<Shard>) -> Result<Plan> {
    if !input_dir.is_dir() {
        let source = std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a folder");
        return Err(Error::io(input_dir, source));
    }
    let mut files = Vec::new();
    walk(input_dir, output_dir, &mut files)?;
    files.sort();
    let extension = if form == Form::Json { "json" } else { "splat" };
    let mut plan = Plan {
        input_dir: input_dir.to_path_buf(),
        output_dir: output_dir.to_path_buf(),
        shard,
        ..Plan::default()
    };
    let (audio, other): (Vec<PathBuf>, Vec<PathBuf>) = files.into_iter().partition(|f| is_audio(f));
    plan.ignored = other.len();
    let relatives: Vec<PathBuf> = audio
        .iter()
        .map(|input| {
            input
                .strip_prefix(input_dir)
                .expect("walked below the input folder")
                .to_path_buf()
        })
        .collect();
    let outputs = output_names(&relatives, extension);
    for ((input, relative), output) in audio.into_iter().zip(relatives).zip(outputs) {
        if shard.is_some_and(|s| !s.owns(&relative)) {
            plan.other_shards += 1;
            continue;
        }
        plan.items.push(Item {
            input,
            output: output_dir.join(output),
            relative,
        });
    }
    Ok(plan)
}

/// Each input's output path (relative): the input's with `extension`, or,
/// where two inputs would share one (`a.wav` and `a.flac`), the input's
/// whole name plus `extension` (`a.wav.splat`). Decided over the whole
/// folder, before sharding, so every shard names the same.
fn output_names(relatives: &[PathBuf], extension: &str) -> Vec<PathBuf> {
    let plain: Vec<PathBuf> = relatives
        .iter()
        .map(|r| r.with_extension(extension))
        .collect();
    let mut uses: HashMap<&PathBuf, usize> = HashMap::new();
    for p in &plain {
        *uses.entry(p).or_default() += 1;
    }
    relatives
        .iter()
        .zip(&plain)
        .map(|(relative, plain)| {
            if uses[plain] == 1 {
                return plain.clone();
            }
            let mut name = relative.as_os_str().to_os_string();
            name.push(format!(".{extension}"));
            PathBuf::from(name)
        })
        .collect()
}

fn is_audio(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Every file below `dir` (following links to files, not to folders, so a
/// link loop cannot trap the walk), leaving out the output folder.
fn walk(dir: &Path, skip: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| Error::io(&path, e))?;
        if kind.is_dir() {
            if !same_place(&path, skip) {
                walk(&path, skip, files)?;
            }
        } else if kind.is_file() || (kind.is_symlink() && path.is_file()) {
            files.push(path);
        }
    }
    Ok(())
}

fn same_place(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

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
    for (i, item) in plan.items.iter().enumerate() {
        remove_stale_temporaries(&item.output);
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

/// The row of a file an earlier run finished, if its output reads back
/// whole (and `force` is off).
fn done_before(
    item: &Item,
    journal: &HashMap<PathBuf, FileRow>,
    fingerprint: &str,
    force: bool,
) -> Option<FileRow> {
    if force || !item.output.is_file() {
        return None;
    }
    let list = match events::read(&item.output) {
        Ok(list) => list,
        Err(e) => {
            log::warn!("{e}: encoding it again");
            return None;
        }
    };
    let row = match journal.get(&item.relative) {
        Some(row) => FileRow {
            status: Status::AlreadyDone,
            ..row.clone()
        },
        // Finished, but killed before the journal line: rebuilt from the file.
        None => row_from_list(item, &list, fingerprint),
    };
    if row.options != fingerprint {
        log::warn!(
            "{} was encoded with other options ({}); keeping it (use --force to re-encode)",
            item.output.display(),
            row.options
        );
    }
    Some(row)
}

fn row_from_list(item: &Item, list: &EventList, fingerprint: &str) -> FileRow {
    let bytes = std::fs::metadata(&item.output).map_or(0, |m| m.len());
    let seconds = f64::from(list.duration);
    FileRow {
        seconds,
        events: list.events.len(),
        bytes,
        kbps: metrics::bitrate_kbps(bytes, seconds).unwrap_or(0.0),
        ..FileRow::empty(item, Status::AlreadyDone, fingerprint)
    }
}

/// Removes what a killed run left half-written for `output`
/// (`NAME.PID.tmp`, see [`crate::fsutil::temp_path_for`]).
fn remove_stale_temporaries(output: &Path) {
    let (Some(dir), Some(name)) = (output.parent(), output.file_name()) else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let prefix = format!("{}.", name.to_string_lossy());
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        if let Some(pid) = file
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(".tmp"))
            .filter(|pid| pid.chars().all(|c| c.is_ascii_digit()))
        {
            log::info!("removing {file}, left by an interrupted run (process {pid})");
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The last row of every file in the journal (a torn last line is skipped).
fn read_journal(path: &Path) -> HashMap<PathBuf, FileRow> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return HashMap::new();
    };
    text.lines()
        .filter_map(|line| serde_json::from_str::<FileRow>(line).ok())
        .filter(|row| row.status == Status::Encoded)
        .map(|row| (row.input.clone(), row))
        .collect()
}

fn open_journal(path: &Path) -> Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io(path, e))
}

fn append_journal(file: &mut std::fs::File, row: &FileRow, path: &Path) -> Result<()> {
    let mut line = serde_json::to_string(row).expect("rows serialise");
    line.push('\n');
    file.write_all(line.as_bytes())
        .and_then(|()| file.sync_data())
        .map_err(|e| Error::io(path, e))
}

/// `summary.csv` and `summary.json` (with the shard's suffix), written atomically.
fn write_summaries(plan: &Plan, report: &CollectionReport) -> Result<()> {
    let json = serde_json::to_string_pretty(report).expect("reports serialise");
    crate::fsutil::write_atomically(&plan.summary_path("json"), |w| {
        w.write_all(json.as_bytes())
            .map_err(|e| Error::io(plan.summary_path("json"), e))
    })?;
    let csv = summary_csv(&report.files);
    crate::fsutil::write_atomically(&plan.summary_path("csv"), |w| {
        w.write_all(csv.as_bytes())
            .map_err(|e| Error::io(plan.summary_path("csv"), e))
    })
}

/// The rows as CSV (RFC 4180 quoting).
pub fn summary_csv(rows: &[FileRow]) -> String {
    let mut csv = String::from(
        "input,output,status,seconds,events,bytes,kbps,mel_distance,stft_distance,lsd_db,encode_seconds,realtime_factor,error\n",
    );
    let opt = |x: Option<f64>| x.map(|x| format!("{x:.6}")).unwrap_or_default();
    for r in rows {
        let status = serde_json::to_value(r.status).expect("statuses serialise");
        let fields = [
            quote(&r.input.to_string_lossy()),
            quote(&r.output.to_string_lossy()),
            status.as_str().unwrap_or_default().to_string(),
            format!("{:.3}", r.seconds),
            r.events.to_string(),
            r.bytes.to_string(),
            format!("{:.4}", r.kbps),
            opt(r.mel_distance),
            opt(r.stft_distance),
            opt(r.lsd_db),
            format!("{:.3}", r.encode_seconds),
            format!("{:.4}", r.realtime_factor),
            quote(r.error.as_deref().unwrap_or_default()),
        ];
        csv.push_str(&fields.join(","));
        csv.push('\n');
    }
    csv
}

fn quote(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// Host memory for decoded audio: a decoder waits until its file fits, but a
/// file is always admitted when nothing else is held.
struct MemoryBudget {
    limit: u64,
    used: Mutex<u64>,
    freed: Condvar,
}

impl MemoryBudget {
    fn new(limit: u64) -> Self {
        MemoryBudget {
            limit,
            used: Mutex::new(0),
            freed: Condvar::new(),
        }
    }

    fn acquire(&self, bytes: u64) {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        while *used > 0 && *used + bytes > self.limit {
            used = self.freed.wait(used).unwrap_or_else(|e| e.into_inner());
        }
        *used += bytes;
    }

    fn release(&self, bytes: u64) {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        *used = used.saturating_sub(bytes);
        self.freed.notify_all();
    }
}

/// A file's signal: decoded whole, or (bigger than the memory budget)
/// streamed window by window, which leaves out the metrics (they compare
/// whole signals).
enum Input {
    Whole(audio::Audio),
    Streamed(Box<Streamed>),
}

/// A decoded file on its way to an encoder.
struct Decoded {
    todo_index: usize,
    input: Result<Input>,
    /// Memory budget held until the file is done.
    bytes: u64,
    decode_seconds: f64,
}

/// The shared state of one run's threads.
struct Run<'r, 'g> {
    backend: Backend<'g>,
    plan: &'r Plan,
    options: &'r CollectionOptions,
    fingerprint: &'r str,
    /// Indices into `plan.items` still to encode.
    todo: &'r [usize],
    /// The next entry of `todo` for a decoder.
    next: AtomicUsize,
    /// Set when the GPU is lost: no new file starts.
    stop: AtomicBool,
    memory: MemoryBudget,
}

impl<'g> Run<'_, 'g> {
    /// Runs the decoders, the encoders and (on the GPU) the scoring service;
    /// `finished` gets each file's row on the calling thread.
    fn execute(
        &self,
        finished: &mut dyn FnMut(usize, FileRow) -> Result<()>,
    ) -> Result<Option<BatchStats>> {
        let jobs = self.options.jobs.max(1);
        let (decoded_tx, decoded_rx) = std::sync::mpsc::sync_channel::<Decoded>(jobs);
        let decoded_rx = Mutex::new(decoded_rx);
        let (row_tx, row_rx) = std::sync::mpsc::channel::<(usize, FileRow)>();
        std::thread::scope(|scope| {
            let (service, client) = match self.backend {
                Backend::Gpu(ctx) => {
                    let dict = super::dictionary::Dictionary::new(WORKING_RATE);
                    let scorer = super::gpu::GpuScorer::new(ctx, &dict)?;
                    let (service, client) = batch::service(scorer);
                    (Some(scope.spawn(move || service.run())), Some(client))
                }
                Backend::Cpu => (None, None),
            };
            for _ in 0..self.options.decoders.max(1) {
                let tx = decoded_tx.clone();
                scope.spawn(move || self.decode_loop(&tx));
            }
            drop(decoded_tx);
            for _ in 0..jobs {
                let (rx, tx, client) = (&decoded_rx, row_tx.clone(), client.clone());
                scope.spawn(move || self.encode_loop(rx, &tx, client));
            }
            drop((row_tx, client));
            let mut outcome = Ok(());
            for (i, row) in row_rx {
                if outcome.is_ok() {
                    outcome = finished(i, row);
                    if outcome.is_err() {
                        self.stop.store(true, Ordering::SeqCst);
                    }
                }
            }
            outcome?;
            Ok(service.map(|s| s.join().expect("the scoring service does not panic")))
        })
    }

    /// Decodes the next files, each once memory allows.
    fn decode_loop(&self, decoded: &SyncSender<Decoded>) {
        loop {
            let k = self.next.fetch_add(1, Ordering::SeqCst);
            if k >= self.todo.len() || self.stop.load(Ordering::SeqCst) {
                return;
            }
            let item = &self.plan.items[self.todo[k]];
            let clock = Instant::now();
            let (input, bytes) = match self.read_input(item) {
                Ok((input, bytes)) => (Ok(input), bytes),
                Err(e) => (Err(e), 0),
            };
            let message = Decoded {
                todo_index: k,
                input,
                bytes,
                decode_seconds: clock.elapsed().as_secs_f64(),
            };
            if decoded.send(message).is_err() {
                return;
            }
        }
    }

    /// A streaming pass finds the file's length (and whether it decodes at
    /// all); then it is decoded whole once its memory is free, or, if it
    /// alone is bigger than the budget, opened for streaming. Returns the
    /// input and the memory it holds.
    fn read_input(&self, item: &Item) -> Result<(Input, u64)> {
        let stats = audio::scan_mono(&item.input, WORKING_RATE)?;
        // The decoded signal, the encoder's working copy and (for the
        // metrics) its rendering.
        let whole = 3 * 4 * stats.len as u64;
        if whole <= self.options.memory_budget {
            self.memory.acquire(whole);
            return match audio::load_mono(&item.input, Some(WORKING_RATE)) {
                Ok(audio) => Ok((Input::Whole(audio), whole)),
                Err(e) => {
                    self.memory.release(whole);
                    Err(e)
                }
            };
        }
        let fs = f64::from(WORKING_RATE);
        let window = self.options.encode.segment_seconds + 2.0 * super::SEGMENT_MARGIN;
        // A window's samples, its analysis and the atoms ringing into it.
        let bytes = ((window * fs) as u64 * 16).min(self.options.memory_budget);
        log::info!(
            "{}: {:.0} s is more than the memory budget holds: streaming it (no metrics)",
            item.input.display(),
            stats.len as f64 / fs
        );
        self.memory.acquire(bytes);
        match Streamed::open(&item.input) {
            Ok(streamed) => Ok((Input::Streamed(Box::new(streamed)), bytes)),
            Err(e) => {
                self.memory.release(bytes);
                Err(e)
            }
        }
    }

    /// Encodes decoded files until the decoders are done.
    fn encode_loop(
        &self,
        decoded: &Mutex<Receiver<Decoded>>,
        rows: &std::sync::mpsc::Sender<(usize, FileRow)>,
        client: Option<ScoreClient>,
    ) {
        loop {
            let next = decoded.lock().unwrap_or_else(|e| e.into_inner()).recv();
            let Ok(file) = next else { return };
            let index = self.todo[file.todo_index];
            let item = &self.plan.items[index];
            let row = if self.stop.load(Ordering::SeqCst) {
                FileRow::empty(item, Status::NotRun, self.fingerprint)
            } else {
                match file.input {
                    Ok(mut input) => {
                        let mut row = self.encode_with_retry(item, &mut input, client.as_ref());
                        row.encode_seconds += file.decode_seconds;
                        row.realtime_factor = row.seconds / row.encode_seconds.max(1e-9);
                        row
                    }
                    Err(e) => FileRow::failed(item, &e, self.fingerprint),
                }
            };
            self.memory.release(file.bytes);
            if rows.send((index, row)).is_err() {
                return;
            }
        }
    }

    /// Encodes one file; a GPU error is retried once with half-length
    /// segments before the file is reported, and a lost device stops the run.
    fn encode_with_retry(
        &self,
        item: &Item,
        input: &mut Input,
        client: Option<&ScoreClient>,
    ) -> FileRow {
        let mut options = self.options.encode;
        let mut result = self.encode_one(item, input, &options, client);
        if let Err(e) = &result
            && is_gpu_error(e)
            && !self.device_lost()
        {
            options.segment_seconds = (options.segment_seconds / 2.0).max(0.5);
            log::warn!(
                "{}: {e}; retrying with {} s segments",
                item.input.display(),
                options.segment_seconds
            );
            result = self.encode_one(item, input, &options, client);
        }
        if self.device_lost() {
            self.stop.store(true, Ordering::SeqCst);
        }
        result.unwrap_or_else(|e| FileRow::failed(item, &e, self.fingerprint))
    }

    fn device_lost(&self) -> bool {
        match self.backend {
            Backend::Gpu(ctx) => ctx.check_lost().is_err(),
            Backend::Cpu => false,
        }
    }

    /// Encodes, writes (atomically) and measures one file.
    fn encode_one(
        &self,
        item: &Item,
        input: &mut Input,
        options: &EncodeOptions,
        client: Option<&ScoreClient>,
    ) -> Result<FileRow> {
        let started = Instant::now();
        let mut encoder = Encoder::new(self.backend, options)?;
        if let Some(client) = client {
            encoder = encoder.with_scorer(Box::new(client.clone()));
        }
        let (report, samples) = match input {
            Input::Whole(audio) => (
                encoder.run(&audio.samples, WORKING_RATE),
                Some(audio.samples.as_slice()),
            ),
            Input::Streamed(streamed) => (encoder.run_source(streamed.as_mut()), None),
        };
        let report = report.map_err(|e| name_input(e, item))?;
        if let Some(dir) = item.output.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        events::write(&item.output, &report.events, options.form)?;
        let written = events::read(&item.output)?;
        let bytes = std::fs::metadata(&item.output)
            .map_err(|e| Error::io(&item.output, e))?
            .len();
        let seconds = f64::from(written.duration);
        let measured = match samples {
            Some(samples) if self.options.metrics && samples.len() >= metrics::MIN_SAMPLES => {
                Some(self.measure(samples, &written)?)
            }
            _ => None,
        };
        let encode_seconds = started.elapsed().as_secs_f64();
        Ok(FileRow {
            seconds,
            events: written.events.len(),
            bytes,
            kbps: metrics::bitrate_kbps(bytes, seconds)?,
            mel_distance: measured.as_ref().map(|m| m.mel_distance),
            stft_distance: measured.as_ref().map(|m| m.stft_distance),
            lsd_db: measured.as_ref().map(|m| m.lsd_db),
            encode_seconds,
            realtime_factor: seconds / encode_seconds.max(1e-9),
            ..FileRow::empty(item, Status::Encoded, self.fingerprint)
        })
    }

    /// The written list rendered and measured against the input.
    fn measure(&self, samples: &[f32], list: &EventList) -> Result<metrics::Metrics> {
        let rendered = match self.backend {
            Backend::Gpu(ctx) => {
                crate::atoms::gpu::render(ctx, &list.events, list.rate, samples.len())?
            }
            Backend::Cpu => crate::atoms::cpu::render(&list.events, list.rate, samples.len(), 1)?,
        };
        metrics::evaluate_with(
            samples,
            &rendered,
            WORKING_RATE,
            metrics::Backend::Cpu { threads: 1 },
        )
    }
}

/// Encoder errors name no file (they see samples): say which.
fn name_input(error: Error, item: &Item) -> Error {
    match error {
        Error::InvalidParameter { .. } | Error::NonFinite { .. } => Error::Encode {
            path: item.input.clone(),
            reason: error.to_string(),
        },
        other => other,
    }
}

fn is_gpu_error(error: &Error) -> bool {
    matches!(error, Error::OutOfMemory(_) | Error::Gpu(_))
}
