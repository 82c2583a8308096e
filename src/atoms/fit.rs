//! Fitting atoms to a target by gradient descent: the decoder is fixed and
//! differentiable, so fitting its inputs is the encoder.
//!
//! Each iteration renders the atoms, asks the caller's loss for its value and
//! its gradient with respect to the rendered signal, turns that into the
//! gradient of every atom parameter ([`super::grad`]) and takes an Adam step.
//! Parameters are optimised in spaces where equal steps mean equal changes to
//! the ear: log frequency, log time constants, log gains, logit roll-off, and
//! the onset in seconds. A sparsity term pulls every atom's level towards
//! zero; atoms that fall far below the loudest are pruned.

use super::grad::{Gradient, field, gradient_reference};
use super::prepare::{atom_with_gains, gains_of, prepare, prepare_for_gradient};
use super::{Atom, FIELD_RANGES};
use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use std::time::Instant;

/// Where the renders and gradients of a fit run.
#[derive(Clone, Copy)]
pub enum FitBackend<'a> {
    Gpu(&'a GpuContext),
    /// The f64 references (slow; for tests and machines without a device).
    Cpu,
}

/// How a fit runs.
#[derive(Clone, Debug)]
pub struct FitOptions {
    pub iterations: usize,
    /// Adam step in the log (or logit) spaces at the first iteration; it
    /// decays geometrically to a tenth of this by the last.
    pub learning_rate: f64,
    /// Adam step of onsets, seconds.
    pub onset_rate: f64,
    /// Adam step of log f0 and log spacing (pitch needs finer steps than
    /// timbre: 0.002 is about 3.5 cents).
    pub pitch_rate: f64,
    /// Weight of Σ level (each atom's RMS-over-one-second, from its gains)
    /// added to the loss: pressure towards fewer, quieter atoms.
    pub sparsity: f64,
    /// Atoms whose level falls this far below the loudest are removed.
    pub prune_below_db: f64,
    /// Check for atoms to prune every this many iterations (0: never).
    pub prune_every: usize,
    /// Fields held fixed, by [`super::grad::GRADIENT_FIELDS`] index.
    pub frozen: [bool; 13],
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            iterations: 100,
            learning_rate: 0.02,
            onset_rate: 5e-4,
            pitch_rate: 0.002,
            sparsity: 0.0,
            prune_below_db: 60.0,
            prune_every: 25,
            frozen: [false; 13],
        }
    }
}

/// What a fit did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct FitReport {
    /// The loss (without the sparsity term) at each iteration.
    pub losses: Vec<f64>,
    /// Atoms removed by pruning.
    pub pruned: usize,
    /// Seconds spent preparing and rendering, in the loss, in the parameter
    /// gradients, and updating.
    pub render_seconds: f64,
    pub loss_seconds: f64,
    pub gradient_seconds: f64,
    pub update_seconds: f64,
}

/// The loss a fit minimises: its value and dL/dy for a rendered signal.
pub trait Loss {
    fn value_and_gradient(&mut self, rendered: &[f32]) -> Result<(f64, Vec<f32>)>;
}

impl<F: FnMut(&[f32]) -> Result<(f64, Vec<f32>)>> Loss for F {
    fn value_and_gradient(&mut self, rendered: &[f32]) -> Result<(f64, Vec<f32>)> {
        self(rendered)
    }
}

/// Fits `atoms` at `rate` over `samples` output samples to minimise `loss`,
/// and returns the fitted atoms (amplitude and mix recomputed from the
/// fitted gains) with a report.
pub fn fit(
    atoms: &[Atom],
    rate: u32,
    samples: usize,
    options: &FitOptions,
    backend: FitBackend,
    loss: &mut impl Loss,
) -> Result<(Vec<Atom>, FitReport)> {
    if !options.learning_rate.is_finite() || options.learning_rate <= 0.0 {
        return Err(Error::invalid("learning rate", "must be a positive number"));
    }
    let mut state = FitState::new(atoms, rate)?;
    let mut report = FitReport::default();
    let decay = 0.1f64.powf(1.0 / options.iterations.max(1) as f64);
    for iteration in 0..options.iterations {
        let clock = Instant::now();
        let prepared = prepare_for_gradient(&state.atoms, &state.gains, rate)?;
        let rendered = match backend {
            FitBackend::Gpu(ctx) => super::gpu::render_prepared(ctx, &prepared, samples)?,
            FitBackend::Cpu => super::cpu::render_prepared(&prepared, samples, 0)
                .into_iter()
                .map(|v| v as f32)
                .collect(),
        };
        report.render_seconds += clock.elapsed().as_secs_f64();
        let clock = Instant::now();
        let (value, grad_y) = loss.value_and_gradient(&rendered)?;
        report.loss_seconds += clock.elapsed().as_secs_f64();
        report.losses.push(value);
        let clock = Instant::now();
        let mut grads = match backend {
            FitBackend::Gpu(ctx) => super::gpu::gradient(ctx, &prepared, &state.atoms, &grad_y)?,
            FitBackend::Cpu => gradient_reference(&prepared, &state.atoms, &grad_y),
        };
        report.gradient_seconds += clock.elapsed().as_secs_f64();
        let clock = Instant::now();
        state.add_sparsity(&mut grads, options.sparsity);
        let scale = decay.powi(iteration as i32);
        let steps = StepSizes {
            general: options.learning_rate * scale,
            onset: options.onset_rate * scale,
            pitch: options.pitch_rate * scale,
        };
        for g in grads.iter_mut() {
            for (value, frozen) in g.iter_mut().zip(options.frozen) {
                if frozen {
                    *value = 0.0;
                }
            }
        }
        state.adam_step(&grads, &steps, iteration + 1);
        if options.prune_every > 0 && (iteration + 1) % options.prune_every == 0 {
            report.pruned += state.prune(options.prune_below_db)?;
        }
        report.update_seconds += clock.elapsed().as_secs_f64();
    }
    let fitted = state
        .atoms
        .iter()
        .zip(&state.gains)
        .map(|(a, g)| atom_with_gains(a, *g, rate))
        .collect::<Result<Vec<_>>>()?;
    Ok((fitted, report))
}

/// The variables of a fit and Adam's moments.
struct FitState {
    rate: u32,
    atoms: Vec<Atom>,
    gains: Vec<[f64; 2]>,
    /// √(nominal energy / fs) of each part at the start: level per unit gain.
    level_per_gain: Vec<[f64; 2]>,
    first: Vec<Gradient>,
    second: Vec<Gradient>,
}

/// This iteration's Adam step sizes.
struct StepSizes {
    general: f64,
    onset: f64,
    pitch: f64,
}

const BETA1: f64 = 0.9;
const BETA2: f64 = 0.999;
const EPSILON: f64 = 1e-12;
/// Offsets that keep fields that may be 0 inside their log spaces.
const CENTRE_OFFSET: f64 = 10.0;
const ATTACK_OFFSET: f64 = 1e-4;

impl FitState {
    fn new(atoms: &[Atom], rate: u32) -> Result<Self> {
        let gains = gains_of(&prepare(atoms, rate)?);
        let level_per_gain = atoms
            .iter()
            .zip(&gains)
            .map(|(a, g)| {
                let per = |gain: f64, weight: f64| {
                    if gain > 0.0 {
                        a.amplitude as f64 * weight / gain
                    } else {
                        0.0
                    }
                };
                let angle = std::f64::consts::FRAC_PI_2 * a.mix as f64;
                [per(g[0], angle.cos()), per(g[1], angle.sin())]
            })
            .collect();
        Ok(FitState {
            rate,
            atoms: atoms.to_vec(),
            gains,
            level_per_gain,
            first: vec![[0.0; 13]; atoms.len()],
            second: vec![[0.0; 13]; atoms.len()],
        })
    }

    /// Adds the gradient of sparsity · Σ levels (levels linear in the gains).
    fn add_sparsity(&self, grads: &mut [Gradient], sparsity: f64) {
        if sparsity == 0.0 {
            return;
        }
        for (g, per) in grads.iter_mut().zip(&self.level_per_gain) {
            g[field::BURST_GAIN] += sparsity * per[0];
            g[field::RESONANCE_GAIN] += sparsity * per[1];
        }
    }

    /// One Adam step in the optimisation spaces, then every field clamped to
    /// its range.
    fn adam_step(&mut self, grads: &[Gradient], steps: &StepSizes, t: usize) {
        let correction1 = 1.0 - BETA1.powi(t as i32);
        let correction2 = 1.0 - BETA2.powi(t as i32);
        for (i, grad) in grads.iter().enumerate() {
            let mut u = to_space(&self.atoms[i], self.gains[i]);
            for f in 0..13 {
                let Some(value) = u[f] else { continue };
                let g = grad[f] * space_slope(&self.atoms[i], self.gains[i], f);
                let m = &mut self.first[i][f];
                *m = BETA1 * *m + (1.0 - BETA1) * g;
                let v = &mut self.second[i][f];
                *v = BETA2 * *v + (1.0 - BETA2) * g * g;
                let step = match f {
                    field::ONSET => steps.onset,
                    field::F0 | field::SPACING => steps.pitch,
                    _ => steps.general,
                };
                let update = step * (*m / correction1) / ((*v / correction2).sqrt() + EPSILON);
                u[f] = Some(value - update);
            }
            let (atom, gains) = from_space(&self.atoms[i], &u);
            self.atoms[i] = atom;
            self.gains[i] = gains;
        }
    }

    /// Removes atoms whose level is `below_db` under the loudest; returns how many.
    fn prune(&mut self, below_db: f64) -> Result<usize> {
        let levels: Vec<f64> = self
            .atoms
            .iter()
            .zip(&self.gains)
            .map(|(a, g)| atom_with_gains(a, *g, self.rate).map(|a| a.amplitude as f64))
            .collect::<Result<_>>()?;
        let loudest = levels.iter().cloned().fold(0.0, f64::max);
        let floor = loudest * 10f64.powf(-below_db / 20.0);
        let keep: Vec<bool> = levels.iter().map(|&l| l > floor).collect();
        let before = self.atoms.len();
        retain_by(&mut self.atoms, &keep);
        retain_by(&mut self.gains, &keep);
        retain_by(&mut self.level_per_gain, &keep);
        retain_by(&mut self.first, &keep);
        retain_by(&mut self.second, &keep);
        Ok(before - self.atoms.len())
    }
}

/// Keeps the elements of `v` whose `keep` entry is true.
fn retain_by<T>(v: &mut Vec<T>, keep: &[bool]) {
    let mut flags = keep.iter();
    v.retain(|_| *flags.next().unwrap_or(&false));
}

/// The optimisation variables of an atom (None: held fixed).
fn to_space(a: &Atom, gains: [f64; 2]) -> [Option<f64>; 13] {
    let log = |v: f32| Some((v as f64).ln());
    let rolloff = (a.rolloff as f64).clamp(1e-4, 1.0 - 1e-4);
    let log_gain = |g: f64| (g > 0.0).then(|| g.ln());
    [
        Some(a.onset as f64),
        log(a.f0),
        log(a.spacing),
        Some((rolloff / (1.0 - rolloff)).ln()),
        log(a.t60),
        log(a.brightness),
        log(a.closing),
        Some((a.noise_centre as f64 + CENTRE_OFFSET).ln()),
        log(a.noise_width),
        Some((a.attack as f64 + ATTACK_OFFSET).ln()),
        log(a.length),
        log_gain(gains[0]),
        log_gain(gains[1]),
    ]
}

/// dθ/du of field `f` at the current values.
fn space_slope(a: &Atom, gains: [f64; 2], f: usize) -> f64 {
    match f {
        field::ONSET => 1.0,
        field::ROLLOFF => {
            let r = (a.rolloff as f64).clamp(1e-4, 1.0 - 1e-4);
            r * (1.0 - r)
        }
        field::NOISE_CENTRE => a.noise_centre as f64 + CENTRE_OFFSET,
        field::ATTACK => a.attack as f64 + ATTACK_OFFSET,
        field::BURST_GAIN => gains[0],
        field::RESONANCE_GAIN => gains[1],
        _ => physical(a, f),
    }
}

/// The value of physical field `f` (1..=10 but rolloff/centre/attack).
fn physical(a: &Atom, f: usize) -> f64 {
    (match f {
        field::F0 => a.f0,
        field::SPACING => a.spacing,
        field::T60 => a.t60,
        field::BRIGHTNESS => a.brightness,
        field::CLOSING => a.closing,
        field::NOISE_WIDTH => a.noise_width,
        field::LENGTH => a.length,
        _ => unreachable!("field {f} has its own space"),
    }) as f64
}

/// The atom and gains for optimisation variables `u`, clamped to the ranges.
fn from_space(shape: &Atom, u: &[Option<f64>; 13]) -> (Atom, [f64; 2]) {
    let exp = |f: usize| u[f].map(f64::exp);
    let mut fields = shape.fields();
    // FIELD_RANGES order: onset, amplitude, f0, spacing, rolloff, t60,
    // brightness, closing, noise_centre, noise_width, attack, length, mix.
    let set = |fields: &mut [f32; 13], index: usize, value: Option<f64>| {
        if let Some(v) = value {
            let r = FIELD_RANGES[index];
            fields[index] = (v as f32).clamp(r.min, r.max);
        }
    };
    set(&mut fields, 0, u[field::ONSET]);
    set(&mut fields, 2, exp(field::F0));
    set(&mut fields, 3, exp(field::SPACING));
    set(
        &mut fields,
        4,
        u[field::ROLLOFF].map(|x| 1.0 / (1.0 + (-x).exp())),
    );
    set(&mut fields, 5, exp(field::T60));
    set(&mut fields, 6, exp(field::BRIGHTNESS));
    set(&mut fields, 7, exp(field::CLOSING));
    set(
        &mut fields,
        8,
        exp(field::NOISE_CENTRE).map(|v| (v - CENTRE_OFFSET).max(0.0)),
    );
    set(&mut fields, 9, exp(field::NOISE_WIDTH));
    set(
        &mut fields,
        10,
        exp(field::ATTACK).map(|v| (v - ATTACK_OFFSET).max(0.0)),
    );
    set(&mut fields, 11, exp(field::LENGTH));
    let gains = [
        exp(field::BURST_GAIN).unwrap_or(0.0),
        exp(field::RESONANCE_GAIN).unwrap_or(0.0),
    ];
    (Atom::from_fields(fields, shape.envelope, shape.seed), gains)
}
