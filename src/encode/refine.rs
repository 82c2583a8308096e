//! Gradient refinement: the atoms found by matching pursuit, fitted to the
//! target by Adam against the multi-resolution STFT loss
//! ([`crate::stft::loss`]) through the differentiable renderer
//! ([`crate::atoms::fit`]).
//!
//! Long audio is refined window by window: the atoms whose onsets fall in a
//! window's core are the variables; every other atom that sounds in the window
//! is rendered once and subtracted from the target, so atoms cross window
//! boundaries freely and each is fitted against everything around it.

use super::Backend;
use super::source::SignalSource;
use super::templates::render_span;
use crate::atoms::Atom;
use crate::atoms::fit::{FitBackend, FitOptions, FitReport, fit};
use crate::error::Result;
use crate::stft::loss::{LossConfig, LossJob, loss_reference};

/// How refinement runs.
#[derive(Clone, Debug)]
pub struct RefineOptions {
    /// Adam iterations per window (0: no refinement).
    pub iterations: usize,
    /// Step sizes, sparsity and pruning of each fit.
    pub fit: FitOptions,
    /// Length of a window's core, seconds.
    pub window_seconds: f64,
    /// Context on each side of the core that the loss also sees, seconds.
    pub margin_seconds: f64,
}

impl Default for RefineOptions {
    fn default() -> Self {
        RefineOptions {
            iterations: 60,
            fit: FitOptions {
                learning_rate: 0.03,
                onset_rate: 2e-4,
                pitch_rate: 0.003,
                // Gentle pressure towards fewer, quieter atoms: against a loss
                // of order 1, a thousand atoms at -40 dB weigh 0.01.
                sparsity: 1e-3,
                ..FitOptions::default()
            },
            window_seconds: 12.0,
            margin_seconds: 0.5,
        }
    }
}

/// Refines `atoms` against `target` (mono, `rate` Hz, read window by window
/// in one pass) and returns the fitted atoms, sorted by onset, with the
/// reports of every window's fit.
pub fn refine(
    backend: &Backend,
    target: &mut dyn SignalSource,
    rate: u32,
    atoms: Vec<Atom>,
    options: &RefineOptions,
) -> Result<(Vec<Atom>, Vec<FitReport>)> {
    if options.iterations == 0 || atoms.is_empty() {
        return Ok((atoms, Vec::new()));
    }
    target.rewind()?;
    let len = target.len();
    let fs = rate as f64;
    let core = ((options.window_seconds * fs) as usize).max(1);
    let margin = (options.margin_seconds * fs) as usize;
    let mut atoms = atoms;
    let mut reports = Vec::new();
    for core_start in (0..len).step_by(core) {
        let core_end = (core_start + core).min(len);
        let first = core_start.saturating_sub(margin);
        let last = (core_end + margin).min(len);
        let in_core = |a: &Atom| {
            let n = (a.onset as f64 * fs) as usize;
            n >= core_start && (n < core_end || core_end == len)
        };
        let (variables, fixed): (Vec<Atom>, Vec<Atom>) = atoms.iter().partition(|a| in_core(a));
        if variables.is_empty() {
            continue;
        }
        // The window's target less everything that is held fixed.
        let mut residual = target.span(first..last)?;
        if let Some(background) = render_span(backend, &fixed, rate, first..last)? {
            for (t, b) in residual.iter_mut().zip(background) {
                *t -= b;
            }
        }
        let shift = first as f32 / rate as f32;
        let local: Vec<Atom> = variables
            .iter()
            .map(|a| Atom {
                onset: a.onset - shift,
                ..*a
            })
            .collect();
        let config = LossConfig::default();
        if config.validate_for_length(residual.len()).is_err() {
            // Too short for the loss's longest window: left as pursuit found it.
            continue;
        }
        let fit_options = FitOptions {
            iterations: options.iterations,
            ..options.fit.clone()
        };
        let (fitted, report) = match backend {
            Backend::Gpu(ctx) => {
                let job = LossJob::new(ctx, &residual, &config)?;
                let mut loss = |y: &[f32]| job.eval(y);
                let fit_backend = FitBackend::Gpu(ctx);
                fit(
                    &local,
                    rate,
                    residual.len(),
                    &fit_options,
                    fit_backend,
                    &mut loss,
                )?
            }
            Backend::Cpu => {
                let mut loss = |y: &[f32]| {
                    let (value, grad) = loss_reference(&residual, y, &config)?;
                    Ok((value, grad.into_iter().map(|g| g as f32).collect()))
                };
                fit(
                    &local,
                    rate,
                    residual.len(),
                    &fit_options,
                    FitBackend::Cpu,
                    &mut loss,
                )?
            }
        };
        reports.push(report);
        atoms = fixed
            .into_iter()
            .chain(fitted.into_iter().map(|a| Atom {
                onset: a.onset + shift,
                ..a
            }))
            .collect();
    }
    atoms.sort_by(|a, b| a.onset.total_cmp(&b.onset));
    Ok((atoms, reports))
}
