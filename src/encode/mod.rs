//! The encoder: audio in, an [`EventList`] out.
//!
//! Stages (an [`Encoder`] runs them in order and times each):
//!
//! 1. **prepare**: resample to [`WORKING_RATE`] (22050 Hz) if needed and
//!    remove the DC offset (the mean), which no atom can represent; a file
//!    too long to hold ([`source::Streamed`]) is scanned once for its length
//!    and mean instead, and every later stage reads it again, span by span;
//! 2. **analyse** each window (see [`segments`]): the magnitude STFT
//!    ([`dictionary::N_FFT`], [`dictionary::HOP`]) minus what earlier windows'
//!    atoms already explain;
//! 3. **initialise** by matching pursuit ([`pursuit`]) on the GPU kernels of
//!    `shaders/pursuit.wgsl` (or their CPU reference), against the atoms as
//!    the compact form will store them;
//! 4. **refine** ([`refine`]): `iterations` Adam steps on every parameter of
//!    every atom against the multi-resolution STFT loss, through the
//!    differentiable renderer (0, the default, skips it);
//! 5. **finish**: sort by onset, give the atoms their compact-file seeds, and
//!    drop the weakest atoms if gap records pushed the file over the bitrate.
//!
//! Encoding is deterministic: the same samples, options and backend give the
//! same list (and file) every time.

pub mod batch;
pub mod collection;
pub mod cpu;
pub mod dictionary;
pub mod gpu;
pub mod pursuit;
pub mod refine;
pub mod retry;
pub mod segments;
pub mod source;
pub mod templates;

use crate::atoms::Atom;
use crate::error::{Error, Result};
use crate::events::{EventList, Form, compact};
use crate::gpu::GpuContext;
use dictionary::Dictionary;
use pursuit::{PursuitSettings, Residual, Scorer};
use source::{InMemory, SignalSource};
use std::time::Instant;

/// The rate every encoding works at, Hz.
pub const WORKING_RATE: u32 = crate::audio::DEFAULT_RATE;
/// Bytes of a binary event file's header.
pub const HEADER_BYTES: usize = 28;

/// Where the encoder computes.
#[derive(Clone, Copy)]
pub enum Backend<'a> {
    /// Scoring kernels, renders and STFTs on the GPU.
    Gpu(&'a GpuContext),
    /// The CPU references (f32 scoring, f64 renders, CPU STFT).
    Cpu,
}

/// How many events to spend.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Budget {
    /// A bitrate in kbit/s of the written file (bytes × 8 / seconds), header included.
    Kbps(f64),
    /// Events per second of audio.
    EventsPerSecond(f64),
}

/// What an encoding does.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EncodeOptions {
    pub budget: Budget,
    /// The form the list will be written in (sets bytes per event for
    /// [`Budget::Kbps`]; compact also puts every field on the compact grid).
    pub form: Form,
    /// Gradient refinement iterations (0: matching pursuit only).
    pub iterations: u32,
    /// Noise seeds of exact and JSON lists: event i gets
    /// `seed_for_index(i) ^ seed` (0: the compact form's own seeds).
    pub seed: u32,
    /// Seconds of onsets each analysis window owns.
    pub segment_seconds: f64,
    /// Atoms taken per scoring round at most.
    pub picks_per_round: usize,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        EncodeOptions {
            budget: Budget::Kbps(4.0),
            form: Form::Compact,
            iterations: 0,
            seed: 0,
            segment_seconds: 20.0,
            picks_per_round: PursuitSettings::default().picks_per_round,
        }
    }
}

/// Seconds spent in each stage.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct StageTimings {
    /// Resampling and DC removal (for a streamed file, its scan pass).
    pub prepare: f64,
    /// Analysis STFTs and earlier windows' atoms.
    pub analysis: f64,
    /// Candidate scoring (the pursuit kernels).
    pub scoring: f64,
    /// Rendering chosen atoms, least squares, residual updates.
    pub templates: f64,
    /// Gradient refinement, all of it; then its parts: preparing and
    /// rendering the atoms, the STFT loss and its waveform gradient, the
    /// parameter gradients, and the Adam updates (with pruning).
    pub refinement: f64,
    pub refine_render: f64,
    pub refine_stft: f64,
    pub refine_gradient: f64,
    pub refine_update: f64,
    /// Sorting, seeds, fitting the bitrate.
    pub finish: f64,
    /// Scoring rounds run.
    pub rounds: usize,
}

impl StageTimings {
    /// Seconds over all stages.
    pub fn total(&self) -> f64 {
        self.prepare + self.analysis + self.scoring + self.templates + self.refinement + self.finish
    }
}

/// The result of an encoding.
#[derive(Clone, Debug)]
pub struct EncodeReport {
    pub events: EventList,
    pub timings: StageTimings,
    /// Events the budget allowed.
    pub budget_events: usize,
    /// Analysis windows (segments) used.
    pub segments: usize,
    /// Bytes of the list in the options' form.
    pub bytes: usize,
}

impl EncodeReport {
    /// Seconds of audio encoded per second of encoding.
    pub fn realtime_factor(&self) -> f64 {
        f64::from(self.events.duration) / self.timings.total().max(1e-9)
    }

    /// kbit/s of the list in the options' form.
    pub fn kbps(&self) -> f64 {
        self.bytes as f64 * 8.0 / f64::from(self.events.duration) / 1000.0
    }
}

/// Encodes `samples` (mono, at `rate` Hz) into events at [`WORKING_RATE`].
pub fn encode(
    backend: Backend,
    samples: &[f32],
    rate: u32,
    options: &EncodeOptions,
) -> Result<EncodeReport> {
    Encoder::new(backend, options)?.run(samples, rate)
}

/// Events a budget allows for `seconds` of audio written in `form`.
pub fn budget_events(budget: Budget, form: Form, seconds: f64) -> Result<usize> {
    match budget {
        Budget::EventsPerSecond(r) if r.is_finite() && r >= 0.0 => {
            Ok((r * seconds).round() as usize)
        }
        Budget::Kbps(k) if k.is_finite() && k > 0.0 => {
            let per_event = match form {
                Form::Compact => compact::RECORD_BITS as usize / 8,
                Form::Exact => 57,
                Form::Json => {
                    return Err(Error::invalid(
                        "bitrate",
                        "a bitrate needs a binary form (compact or exact): JSON sizes vary; give events per second instead",
                    ));
                }
            };
            let bytes = (k * 1000.0 * seconds / 8.0).floor() as usize;
            Ok(bytes.saturating_sub(HEADER_BYTES) / per_event)
        }
        Budget::Kbps(k) => Err(Error::invalid(
            "bitrate",
            format!("{k} kbit/s: give a positive number"),
        )),
        Budget::EventsPerSecond(r) => Err(Error::invalid(
            "events per second",
            format!("{r}: give a number >= 0"),
        )),
    }
}

/// The encoder's stages, in order.
pub struct Encoder<'a> {
    backend: Backend<'a>,
    options: EncodeOptions,
    dict: Dictionary,
    timings: StageTimings,
    /// Scores the pursuit's rounds in place of the backend's own scorer.
    scorer: Option<Box<dyn Scorer + 'a>>,
}

impl<'a> Encoder<'a> {
    /// Checks the options.
    pub fn new(backend: Backend<'a>, options: &EncodeOptions) -> Result<Self> {
        if options.iterations > MAX_ITERATIONS {
            return Err(Error::invalid(
                "iterations",
                format!("{}: use 0 to {MAX_ITERATIONS}", options.iterations),
            ));
        }
        if !(options.segment_seconds.is_finite()
            && (0.5..=MAX_SEGMENT_SECONDS).contains(&options.segment_seconds))
        {
            return Err(Error::invalid(
                "segment length",
                format!(
                    "{} s: use 0.5 to {MAX_SEGMENT_SECONDS} s",
                    options.segment_seconds
                ),
            ));
        }
        if options.picks_per_round == 0 {
            return Err(Error::invalid("picks per round", "0: use at least 1"));
        }
        budget_events(options.budget, options.form, 1.0)?;
        Ok(Encoder {
            backend,
            options: *options,
            dict: Dictionary::new(WORKING_RATE),
            timings: StageTimings::default(),
            scorer: None,
        })
    }

    /// Scores the pursuit's rounds with `scorer` (say, a
    /// [`batch::ScoreClient`] that shares GPU submissions with other
    /// encoders) instead of the backend's own scorer.
    pub fn with_scorer(mut self, scorer: Box<dyn Scorer + 'a>) -> Self {
        self.scorer = Some(scorer);
        self
    }

    /// All stages, on `samples` (mono, at `rate` Hz) held in memory.
    pub fn run(mut self, samples: &[f32], rate: u32) -> Result<EncodeReport> {
        let signal = self.prepare(samples, rate)?;
        self.run_source(&mut InMemory(signal))
    }

    /// All stages, on a prepared signal read span by span (a
    /// [`source::Streamed`] file is never held whole). Each stage is one
    /// pass over the source; its preparation counts as the prepare stage.
    pub fn run_source(mut self, source: &mut dyn SignalSource) -> Result<EncodeReport> {
        self.timings.prepare += source.prepare_seconds();
        if source.is_empty() {
            return Err(Error::invalid("input", "no samples to encode"));
        }
        let duration = source.len() as f64 / f64::from(WORKING_RATE);
        let budget = budget_events(self.options.budget, self.options.form, duration)?;
        let mut atoms = self.initialise(source, budget)?;
        if self.options.iterations > 0 {
            // Refine, spend what pruning freed where the residual is largest,
            // and refine again with the newcomers.
            let first = self.options.iterations.div_ceil(2);
            atoms = self.refine(source, atoms, first)?;
            let freed = budget.saturating_sub(atoms.len());
            if freed > 0 {
                let more = self.pursue(source, freed, &atoms)?;
                atoms.extend(more);
            }
            atoms = self.refine(source, atoms, self.options.iterations - first)?;
        }
        let (events, bytes) = self.finish(atoms, duration)?;
        Ok(EncodeReport {
            events,
            timings: self.timings,
            budget_events: budget,
            segments: self.windows(source.len()).len(),
            bytes,
        })
    }

    /// Stage 1: the signal at the working rate, DC removed.
    pub fn prepare(&mut self, samples: &[f32], rate: u32) -> Result<Vec<f32>> {
        let clock = Instant::now();
        if samples.is_empty() {
            return Err(Error::invalid("input", "no samples to encode"));
        }
        crate::error::check_finite("input", samples)?;
        let mut signal = if rate == WORKING_RATE {
            samples.to_vec()
        } else {
            crate::audio::resample(samples, rate, WORKING_RATE)?
        };
        let mean = signal.iter().map(|&x| x as f64).sum::<f64>() / signal.len().max(1) as f64;
        for x in &mut signal {
            *x -= mean as f32;
        }
        self.timings.prepare += clock.elapsed().as_secs_f64();
        Ok(signal)
    }

    fn windows(&self, len: usize) -> Vec<segments::Window> {
        let fs = f64::from(WORKING_RATE);
        let core = (self.options.segment_seconds * fs).round() as usize;
        segments::plan(len, core, (SEGMENT_MARGIN * fs) as usize)
    }

    /// Stages 2 and 3: analysis and matching pursuit, window by window.
    pub fn initialise(
        &mut self,
        source: &mut dyn SignalSource,
        budget: usize,
    ) -> Result<Vec<Atom>> {
        self.pursue(source, budget, &[])
    }

    /// Matching pursuit of `budget` more atoms on what `existing` atoms leave
    /// of the signal's magnitude: the atoms are added where the residual is
    /// largest. Returns only the new atoms. One pass over `source`.
    pub fn pursue(
        &mut self,
        source: &mut dyn SignalSource,
        budget: usize,
        existing: &[Atom],
    ) -> Result<Vec<Atom>> {
        source.rewind()?;
        let len = source.len();
        let mut shared = self.scorer.take();
        let mut own: Box<dyn Scorer + '_>;
        let scorer: &mut dyn Scorer = match shared.as_deref_mut() {
            Some(scorer) => scorer,
            None => {
                own = match self.backend {
                    Backend::Gpu(ctx) => Box::new(gpu::GpuScorer::new(ctx, &self.dict)?),
                    Backend::Cpu => Box::new(pursuit::CpuScorer(&self.dict)),
                };
                own.as_mut()
            }
        };
        let settings = PursuitSettings {
            picks_per_round: self.options.picks_per_round,
            quantise: self.options.form == Form::Compact,
            ..Default::default()
        };
        let mut atoms: Vec<Atom> = Vec::new();
        for window in self.windows(len) {
            let clock = Instant::now();
            let grid = segments::grid(&window);
            let audio = segments::window_audio(source, &window)?;
            let mut data = templates::magnitudes(&self.backend, &audio)?;
            let fs = f64::from(WORKING_RATE);
            let ringing: Vec<Atom> = atoms
                .iter()
                .filter(|a| {
                    // Onsets before this core, recent enough to ring into its span.
                    let sample = f64::from(a.onset) * fs;
                    sample < window.core.start as f64
                        && sample + RING_SECONDS * fs > window.span.start as f64
                })
                .chain(existing.iter().filter(|a| {
                    // Atoms already in the list that sound anywhere in the span.
                    let sample = f64::from(a.onset) * fs;
                    sample < window.span.end as f64
                        && sample + RING_SECONDS * fs > window.span.start as f64
                }))
                .copied()
                .collect();
            if let Some(earlier) = segments::earlier_magnitudes(
                &self.backend,
                &ringing,
                WORKING_RATE,
                &window,
                audio.len(),
            )? {
                for (x, y) in data.iter_mut().zip(earlier) {
                    *x = (*x - y).max(0.0);
                }
            }
            // Past the core, the audio belongs to the next window's onsets: this
            // window's atoms may ring into it but must not claim it (beyond a
            // short stretch that keeps their amplitudes honest at the boundary).
            if window.core.end < len {
                let bins = self.dict.bins();
                for (f, row) in data.chunks_mut(bins).enumerate() {
                    if grid.origin + f * dictionary::HOP >= window.core.end + CLAIM_SAMPLES {
                        row.fill(0.0);
                    }
                }
            }
            self.timings.analysis += clock.elapsed().as_secs_f64();
            // This window's share of the budget: its core's share of the signal.
            let until = (budget as f64 * window.core.end as f64 / len as f64).round();
            let settings = PursuitSettings {
                budget: (until as usize).saturating_sub(atoms.len()),
                ..settings
            };
            let mut residual = Residual {
                grid,
                bins: self.dict.bins(),
                data,
            };
            let core = segments::core_frames(&window, &grid);
            atoms.extend(pursuit::pursue(
                &self.backend,
                &mut *scorer,
                &self.dict,
                &mut residual,
                core,
                &settings,
                &mut self.timings,
            )?);
        }
        self.scorer = shared;
        Ok(atoms)
    }

    /// Stage 4: gradient refinement of the atoms against the multi-resolution
    /// STFT loss (`iterations` Adam steps; 0 skips it). [`Encoder::run`] runs
    /// half the iterations, re-spends the budget pruning freed with
    /// [`Encoder::pursue`], then runs the other half. One pass over `source`
    /// (none when there is nothing to refine).
    pub fn refine(
        &mut self,
        source: &mut dyn SignalSource,
        atoms: Vec<Atom>,
        iterations: u32,
    ) -> Result<Vec<Atom>> {
        let clock = Instant::now();
        let options = refine::RefineOptions {
            iterations: iterations as usize,
            ..Default::default()
        };
        let (atoms, reports) =
            refine::refine(&self.backend, source, WORKING_RATE, atoms, &options)?;
        for r in &reports {
            self.timings.refine_render += r.render_seconds;
            self.timings.refine_stft += r.loss_seconds;
            self.timings.refine_gradient += r.gradient_seconds;
            self.timings.refine_update += r.update_seconds;
        }
        self.timings.refinement += clock.elapsed().as_secs_f64();
        Ok(atoms)
    }

    /// Stage 5: the list as it will be written, within the bitrate.
    pub fn finish(&mut self, atoms: Vec<Atom>, duration: f64) -> Result<(EventList, usize)> {
        let clock = Instant::now();
        let duration = duration as f32;
        let form = self.options.form;
        let mut atoms: Vec<Atom> = atoms
            .into_iter()
            .map(|a| Atom {
                onset: a.onset.min(duration),
                ..a
            })
            .collect();
        let mut list = self.seal(&atoms, duration);
        let mut bytes = list.to_bytes(form)?.len();
        if let Budget::Kbps(k) = self.options.budget {
            let allowed = (k * 1000.0 * f64::from(duration) / 8.0).floor() as usize;
            while bytes > allowed && !atoms.is_empty() {
                // Gap records took the room: drop the weakest atoms (stable order).
                let excess = (bytes - allowed).div_ceil(8).min(atoms.len());
                let mut order: Vec<usize> = (0..atoms.len()).collect();
                order.sort_by(|&a, &b| atoms[a].amplitude.total_cmp(&atoms[b].amplitude));
                let mut drop = vec![false; atoms.len()];
                for &i in &order[..excess] {
                    drop[i] = true;
                }
                let mut i = 0;
                atoms.retain(|_| {
                    i += 1;
                    !drop[i - 1]
                });
                list = self.seal(&atoms, duration);
                bytes = list.to_bytes(form)?.len();
            }
        }
        self.timings.finish += clock.elapsed().as_secs_f64();
        Ok((list, bytes))
    }

    /// `atoms` sorted as a file stores them, with their seeds.
    fn seal(&self, atoms: &[Atom], duration: f32) -> EventList {
        let list = EventList::new(WORKING_RATE, duration, atoms.to_vec());
        match self.options.form {
            Form::Compact => compact::quantise_list(&list),
            Form::Exact | Form::Json => {
                let mut sorted = list;
                sorted.events.sort_by(|a, b| a.onset.total_cmp(&b.onset));
                for (i, a) in sorted.events.iter_mut().enumerate() {
                    a.seed = compact::seed_for_index(i) ^ self.options.seed;
                }
                sorted
            }
        }
    }
}

/// Most refinement iterations an encoding may ask for.
pub const MAX_ITERATIONS: u32 = 10_000;

/// Seconds of context on each side of a window's core.
pub const SEGMENT_MARGIN: f64 = 1.5;
/// Samples past a window's core whose residual its atoms may still explain.
const CLAIM_SAMPLES: usize = 4 * dictionary::N_FFT;
/// Longest an encoder's atom rings, s (the longest T60 to -80 dB, rounded up).
const RING_SECONDS: f64 = 4.0;
/// Longest core a window may have, s (its scores must fit one binding).
pub const MAX_SEGMENT_SECONDS: f64 = 60.0;
