//! The threads of a collection run: decoders, encoders and (on the GPU) the
//! scoring service, under one memory budget.

use super::{CollectionOptions, FileRow, Item, Plan, Status};
use crate::audio;
use crate::encode::batch::{self, BatchStats, ScoreClient};
use crate::encode::retry::with_gpu_retry;
use crate::encode::source::Streamed;
use crate::encode::{Backend, EncodeOptions, Encoder, WORKING_RATE};
use crate::error::{Error, Result};
use crate::events::{self, EventList};
use crate::metrics;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Condvar, Mutex};
use std::time::Instant;

/// Host memory for decoded audio: a decoder waits until its file fits, but a
/// file is always admitted when nothing else is held.
pub(super) struct MemoryBudget {
    limit: u64,
    used: Mutex<u64>,
    freed: Condvar,
}

impl MemoryBudget {
    pub(super) fn new(limit: u64) -> Self {
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
    /// Index into `plan.items`.
    index: usize,
    input: Result<Input>,
    /// Memory budget held until the file is done.
    bytes: u64,
    decode_seconds: f64,
}

/// The shared state of one run's threads.
pub(super) struct Run<'r, 'g> {
    pub(super) backend: Backend<'g>,
    pub(super) plan: &'r Plan,
    pub(super) options: &'r CollectionOptions,
    pub(super) fingerprint: &'r str,
    /// Indices into `plan.items` still to encode.
    pub(super) todo: &'r [usize],
    /// The next entry of `todo` for a decoder.
    pub(super) next: AtomicUsize,
    /// Set when the GPU is lost: no new file starts.
    pub(super) stop: AtomicBool,
    pub(super) memory: MemoryBudget,
}

impl<'g> Run<'_, 'g> {
    /// Runs the decoders, the encoders and (on the GPU) the scoring service;
    /// `finished` gets each file's row on the calling thread.
    pub(super) fn execute(
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
                    let dict = crate::encode::dictionary::Dictionary::new(WORKING_RATE);
                    let scorer = crate::encode::gpu::GpuScorer::new(ctx, &dict)?;
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
            let index = self.todo[k];
            let item = &self.plan.items[index];
            let clock = Instant::now();
            let (input, bytes) = match self.read_input(item) {
                Ok((input, bytes)) => (Ok(input), bytes),
                Err(e) => (Err(e), 0),
            };
            let message = Decoded {
                index,
                input,
                bytes,
                decode_seconds: clock.elapsed().as_secs_f64(),
            };
            if decoded.send(message).is_err() {
                return;
            }
        }
    }

    /// The file's length, from a WAV header (which bounds it) or else a
    /// streaming pass (which also finds whether it decodes at all); then it
    /// is decoded whole once its memory is free, or, if it alone is bigger
    /// than the budget, opened for streaming. Returns the input and the
    /// memory it holds.
    fn read_input(&self, item: &Item) -> Result<(Input, u64)> {
        let load_whole = |len| {
            let whole = crate::encode::source::whole_file_bytes(len);
            (whole <= self.options.memory_budget).then(|| {
                self.holding(whole, || {
                    audio::load_mono(&item.input, Some(WORKING_RATE)).map(Input::Whole)
                })
            })
        };
        if let Some(loaded) = audio::mono_len_bound(&item.input, WORKING_RATE)?.and_then(load_whole)
        {
            return loaded;
        }
        let clock = Instant::now();
        let stats = audio::scan_mono(&item.input, WORKING_RATE)?;
        if let Some(loaded) = load_whole(stats.len) {
            return loaded;
        }
        let fs = f64::from(WORKING_RATE);
        let window = self.options.encode.segment_seconds + 2.0 * crate::encode::SEGMENT_MARGIN;
        // A window's samples, its analysis and the atoms ringing into it.
        let bytes = ((window * fs) as u64 * 16).min(self.options.memory_budget);
        log::info!(
            "{}: {:.0} s is more than the memory budget holds: streaming it (no metrics)",
            item.input.display(),
            stats.len as f64 / fs
        );
        let scan_seconds = clock.elapsed().as_secs_f64();
        self.holding(bytes, || {
            Streamed::scanned(&item.input, &stats, scan_seconds)
                .map(|s| Input::Streamed(Box::new(s)))
        })
    }

    /// `open` run once `bytes` of the memory budget are ours; they are given
    /// back if it fails, else held with what it returns.
    fn holding(&self, bytes: u64, open: impl FnOnce() -> Result<Input>) -> Result<(Input, u64)> {
        self.memory.acquire(bytes);
        open()
            .map(|input| (input, bytes))
            .inspect_err(|_| self.memory.release(bytes))
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
            let index = file.index;
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
        let result = with_gpu_retry(
            self.options.encode,
            || self.device_lost(),
            |options| self.encode_one(item, input, options, client),
            &item.input,
        );
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
    /// (On this file's share of the CPU threads: the other files in flight
    /// have theirs.)
    fn measure(&self, samples: &[f32], list: &EventList) -> Result<metrics::Metrics> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = (cores / self.options.jobs.max(1)).max(1);
        let rendered = match self.backend {
            Backend::Gpu(ctx) => {
                crate::atoms::gpu::render(ctx, &list.events, list.rate, samples.len())?
            }
            Backend::Cpu => {
                crate::atoms::cpu::render(&list.events, list.rate, samples.len(), threads)?
            }
        };
        metrics::evaluate_with(
            samples,
            &rendered,
            WORKING_RATE,
            metrics::Backend::Cpu { threads },
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
