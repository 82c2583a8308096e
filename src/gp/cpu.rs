//! CPU samplers in f64: circulant embedding with rustfft (the reference for
//! the GPU path, same seed same draws), and the O(n) state-space recursion
//! for sums of damped oscillators.
//!
//! [`noise_spectrum`] and [`combine`] are the plain-Rust mirrors of the two
//! kernels in shaders/gp.wgsl (same indexing, same loop structure).

use super::circulant::{Embedding, TOLERANCE};
use super::noise::gaussian_pair;
use super::{Draws, Model, SampleConfig};
use crate::error::{Error, Result};
use crate::stft::cpu::resolve_threads;
use rustfft::FftPlanner;
use rustfft::num_complex::Complex;

/// Mirror of `noise` in shaders/gp.wgsl: for `pairs` draw pairs from
/// `first_pair` and every component c, the values sqrt(lambda_j / M) * (g1 + i g2)
/// at `(c * pairs + p) * m + j`; `sqrt_spectrum` holds components x m values.
pub fn noise_spectrum(
    sqrt_spectrum: &[f64],
    m: usize,
    seed: u64,
    first_pair: usize,
    pairs: usize,
) -> Vec<[f64; 2]> {
    let components = sqrt_spectrum.len() / m;
    let mut out = vec![[0.0; 2]; components * pairs * m];
    for (i, value) in out.iter_mut().enumerate() {
        let j = i % m;
        let cp = i / m;
        let (c, p) = (cp / pairs, cp % pairs);
        let g = gaussian_pair(seed, (first_pair + p) as u32, c as u32, j as u32);
        let s = sqrt_spectrum[c * m + j];
        *value = [s * g[0], s * g[1]];
    }
    out
}

/// Mirror of `combine` in shaders/gp.wgsl: draw d = 2p + part of `pairs`
/// pairs is sum_c a_c(t) * (real part if part = 0, else imaginary part) of
/// the transformed values at `(c * pairs + p) * m + t`, for t < n.
/// `amplitudes` holds components x n values. Returns 2 pairs x n values.
pub fn combine(
    values: &[[f64; 2]],
    amplitudes: &[f64],
    m: usize,
    n: usize,
    pairs: usize,
) -> Vec<f64> {
    let components = amplitudes.len() / n;
    let mut out = vec![0.0; 2 * pairs * n];
    for (i, value) in out.iter_mut().enumerate() {
        let (d, t) = (i / n, i % n);
        let (p, part) = (d / 2, d % 2);
        *value = (0..components)
            .map(|c| amplitudes[c * n + t] * values[(c * pairs + p) * m + t][part])
            .sum();
    }
    out
}

/// Circulant-embedding draws of `model` in f64 on `threads` threads (0: all);
/// the same draws as [`super::gpu::circulant_sample`] for the same seed.
pub fn circulant_sample(model: &Model, cfg: &SampleConfig, threads: usize) -> Result<Draws> {
    cfg.validate()?;
    let embedding = Embedding::new(model, cfg.rate, cfg.n)?;
    Ok(circulant_draws(&embedding, cfg.draws, cfg.seed, threads))
}

/// Draws from a prepared embedding (the benchmark times this part).
pub fn circulant_draws(embedding: &Embedding, draws: usize, seed: u64, threads: usize) -> Draws {
    let (m, n) = (embedding.m, embedding.n);
    let flat_spectrum: Vec<f64> = embedding.sqrt_spectrum.concat();
    let flat_amplitudes: Vec<f64> = embedding.amplitudes.concat();
    let fft = FftPlanner::<f64>::new().plan_fft_forward(m);
    let pairs = draws.div_ceil(2);
    let mut data = vec![0f32; 2 * pairs * n];
    let threads = resolve_threads(threads).min(pairs).max(1);
    let per_thread = pairs.div_ceil(threads);
    std::thread::scope(|scope| {
        for (chunk, out) in data.chunks_mut((2 * n * per_thread).max(1)).enumerate() {
            let (fft, spectrum, amplitudes) = (&fft, &flat_spectrum, &flat_amplitudes);
            scope.spawn(move || {
                for (k, pair_out) in out.chunks_mut(2 * n).enumerate() {
                    let pair = chunk * per_thread + k;
                    let mut values = noise_spectrum(spectrum, m, seed, pair, 1);
                    for transform in values.chunks_mut(m) {
                        let mut z: Vec<Complex<f64>> =
                            transform.iter().map(|v| Complex::new(v[0], v[1])).collect();
                        fft.process(&mut z);
                        for (v, z) in transform.iter_mut().zip(z) {
                            *v = [z.re, z.im];
                        }
                    }
                    let both = combine(&values, amplitudes, m, n, 1);
                    for (o, v) in pair_out.iter_mut().zip(both) {
                        *o = v as f32;
                    }
                }
            });
        }
    });
    data.truncate(draws * n);
    Draws {
        draws,
        n,
        rate: embedding.rate,
        data,
    }
}

/// One damped oscillator of the state-space form, per sample.
#[derive(Debug, Clone, Copy)]
struct Recursion {
    /// Index of the term across all components (its noise stream).
    term: u32,
    component: usize,
    /// sqrt(weight): the stationary standard deviation of each state coordinate.
    scale: f64,
    /// sqrt(weight (1 - rho^2)): the innovation's standard deviation.
    innovation: f64,
    /// rho cos(theta), rho sin(theta).
    rc: f64,
    rs: f64,
}

/// The recursions of every component of `model` at `rate`, or why it has none.
fn recursions(model: &Model, rate: f64) -> Result<Vec<Recursion>> {
    let mut out = Vec::new();
    for (component, c) in model.components.iter().enumerate() {
        let terms = c.kernel.oscillators().ok_or_else(|| Error::InvalidKernel {
            kernel: c.kernel.to_string(),
            reason: "the state-space sampler needs a sum of damped oscillators (osc, matern12, cos, periodic, constants, their sums and products); se, matern32, matern52 and sm have no such form: use the circulant sampler".to_string(),
        })?;
        let total: f64 = terms.iter().map(|t| t.weight.abs()).sum();
        if let Some(t) = terms.iter().find(|t| t.weight < -TOLERANCE * total) {
            return Err(Error::InvalidKernel {
                kernel: c.kernel.to_string(),
                reason: format!(
                    "its damped-oscillator form has a negative term, {t}: every weight must be >= 0"
                ),
            });
        }
        for t in terms {
            let weight = t.weight.max(0.0);
            let rho = (-t.decay / rate).exp();
            let theta = 2.0 * std::f64::consts::PI * t.freq / rate;
            out.push(Recursion {
                term: out.len() as u32,
                component,
                scale: weight.sqrt(),
                innovation: (weight * (1.0 - rho * rho)).max(0.0).sqrt(),
                rc: rho * theta.cos(),
                rs: rho * theta.sin(),
            });
        }
    }
    Ok(out)
}

/// Draws of `model` by the exact discrete-time state-space form of each
/// damped oscillator w exp(-lambda |tau|) cos(omega tau):
/// `x[t+1] = rho R(omega dt) x[t] + w_t`, `Cov(w_t) = w (1 - rho^2) I`, `x[0] ~ N(0, w I)`,
/// `f(t) = sum over terms of a_c(t) x[t].0`. O(n) per term and draw; draws run
/// on `threads` threads (0: all). Noise: (seed, stream = draw, component =
/// term, index = t).
pub fn state_space_sample(model: &Model, cfg: &SampleConfig, threads: usize) -> Result<Draws> {
    cfg.validate()?;
    let terms = recursions(model, cfg.rate)?;
    let amplitudes: Vec<Vec<f64>> = model
        .components
        .iter()
        .map(|c| c.amplitude.on_grid(cfg.rate, cfg.n))
        .collect();
    let n = cfg.n;
    let mut data = vec![0f32; cfg.draws * n];
    let threads = resolve_threads(threads).min(cfg.draws).max(1);
    let per_thread = cfg.draws.div_ceil(threads);
    std::thread::scope(|scope| {
        for (chunk, out) in data.chunks_mut((n * per_thread).max(1)).enumerate() {
            let (terms, amplitudes) = (&terms, &amplitudes);
            scope.spawn(move || {
                let mut sum = vec![0f64; n];
                for (k, draw_out) in out.chunks_mut(n).enumerate() {
                    let draw = (chunk * per_thread + k) as u32;
                    sum.iter_mut().for_each(|v| *v = 0.0);
                    for r in terms {
                        run_recursion(r, cfg.seed, draw, &amplitudes[r.component], &mut sum);
                    }
                    for (o, v) in draw_out.iter_mut().zip(&sum) {
                        *o = *v as f32;
                    }
                }
            });
        }
    });
    Ok(Draws {
        draws: cfg.draws,
        n,
        rate: cfg.rate,
        data,
    })
}

/// Adds a_c(t) x[t].0 of one oscillator's path to `sum`.
fn run_recursion(r: &Recursion, seed: u64, draw: u32, amplitude: &[f64], sum: &mut [f64]) {
    let g = gaussian_pair(seed, draw, r.term, 0);
    let (mut x, mut y) = (r.scale * g[0], r.scale * g[1]);
    sum[0] += amplitude[0] * x;
    for t in 1..sum.len() {
        let g = gaussian_pair(seed, draw, r.term, t as u32);
        let nx = r.rc * x - r.rs * y + r.innovation * g[0];
        let ny = r.rs * x + r.rc * y + r.innovation * g[1];
        (x, y) = (nx, ny);
        sum[t] += amplitude[t] * x;
    }
}
