//! Dense Cholesky in f64: the reference sampler for small grids (what the
//! "Gaussian Process Middle C" post did at n = 5000), and the whitening the
//! statistical tests use (L^-1 x is white noise exactly when x ~ N(0, L L^T)).

use super::noise::gaussian_pair;
use super::{Draws, Model, SampleConfig};
use crate::error::{Error, Result};
use crate::stft::cpu::resolve_threads;

/// Largest grid the dense sampler takes (an n x n f64 matrix: 512 MiB).
pub const MAX_DENSE: usize = 8192;
/// Rows factorised together: each finished row streams through memory once
/// per block.
const BLOCK: usize = 64;

/// The n x n covariance of `model` on t = i / rate (row-major), plus
/// `jitter` times its largest diagonal element on the diagonal.
pub fn covariance_matrix(model: &Model, rate: f64, n: usize, jitter: f64) -> Result<Vec<f64>> {
    if n == 0 || n > MAX_DENSE {
        return Err(Error::OutOfMemory(format!(
            "dense Cholesky takes 1 to {MAX_DENSE} samples ({n} asked: an n x n matrix); use the circulant or state-space sampler"
        )));
    }
    let mut a = vec![0.0; n * n];
    for c in &model.components {
        let lags: Vec<f64> = (0..n).map(|k| c.kernel.eval(k as f64 / rate)).collect();
        let amp = c.amplitude.on_grid(rate, n);
        for i in 0..n {
            for j in 0..=i {
                a[i * n + j] += amp[i] * amp[j] * lags[i - j];
            }
        }
    }
    let largest = (0..n).map(|i| a[i * n + i]).fold(0.0, f64::max);
    for i in 0..n {
        a[i * n + i] += jitter * largest;
        for j in 0..i {
            a[j * n + i] = a[i * n + j];
        }
    }
    Ok(a)
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..4 {
            acc[k] += x[k] * y[k];
        }
    }
    let tail: f64 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// Factorises the symmetric n x n `a` in place into its lower Cholesky factor
/// L (a = L L^T; entries above the diagonal are left as they were), on
/// `threads` threads (0: all). Rows are done in blocks; within a block, rows
/// are split among threads for the columns of finished rows.
pub fn cholesky(a: &mut [f64], n: usize, threads: usize) -> Result<()> {
    let threads = resolve_threads(threads);
    let mut start = 0;
    while start < n {
        let end = (start + BLOCK).min(n);
        let (finished, rest) = a.split_at_mut(start * n);
        let block = &mut rest[..(end - start) * n];
        let rows_per_thread = (end - start).div_ceil(threads);
        let finished = &*finished;
        std::thread::scope(|scope| {
            for rows in block.chunks_mut(rows_per_thread * n) {
                scope.spawn(move || {
                    for j in 0..start {
                        let row_j = &finished[j * n..j * n + j];
                        let inv = 1.0 / finished[j * n + j];
                        for row in rows.chunks_mut(n) {
                            let (prefix, tail) = row.split_at_mut(j);
                            tail[0] = (tail[0] - dot(prefix, row_j)) * inv;
                        }
                    }
                });
            }
        });
        for j in start..end {
            let (_, from_j) = block.split_at_mut((j - start) * n);
            let (row_j, below) = from_j.split_at_mut(n);
            let d = row_j[j] - dot(&row_j[..j], &row_j[..j]);
            if d.is_nan() || d <= 0.0 {
                return Err(Error::invalid(
                    "kernel",
                    format!(
                        "the covariance matrix is not positive definite (Cholesky pivot {d:.3e} at row {j} of {n})"
                    ),
                ));
            }
            row_j[j] = d.sqrt();
            let inv = 1.0 / row_j[j];
            for row in below.chunks_mut(n) {
                row[j] = (row[j] - dot(&row[..j], &row_j[..j])) * inv;
            }
        }
        start = end;
    }
    Ok(())
}

/// Solves L z = x (forward substitution) for the lower factor `l`.
pub fn whiten(l: &[f64], n: usize, x: &[f64]) -> Vec<f64> {
    let mut z = vec![0.0; n];
    for i in 0..n {
        let row = &l[i * n..i * n + i];
        z[i] = (x[i] - dot(row, &z[..i])) / l[i * n + i];
    }
    z
}

/// Relative diagonal jitter [`cholesky_sample`] adds (the middle C envelope
/// is 0 at t = 0, a zero row otherwise).
pub const JITTER: f64 = 1e-10;

/// Draws x = L z of `model`, z white noise from (seed, stream = draw,
/// component 0, index i / 2), L the Cholesky factor of the covariance on the
/// grid plus [`JITTER`].
pub fn cholesky_sample(model: &Model, cfg: &SampleConfig, threads: usize) -> Result<Draws> {
    cfg.validate()?;
    let n = cfg.n;
    let mut l = covariance_matrix(model, cfg.rate, n, JITTER)?;
    cholesky(&mut l, n, threads)?;
    Ok(cholesky_draws(&l, n, cfg.rate, cfg.draws, cfg.seed))
}

/// Draws from a factor (the benchmark times this apart from the factorisation).
pub fn cholesky_draws(l: &[f64], n: usize, rate: f64, draws: usize, seed: u64) -> Draws {
    let z: Vec<Vec<f64>> = (0..draws)
        .map(|d| {
            (0..n)
                .map(|i| gaussian_pair(seed, d as u32, 0, (i / 2) as u32)[i % 2])
                .collect()
        })
        .collect();
    let mut data = vec![0f32; draws * n];
    for i in 0..n {
        let row = &l[i * n..=i * n + i];
        for (d, z) in z.iter().enumerate() {
            data[d * n + i] = dot(row, &z[..=i]) as f32;
        }
    }
    Draws {
        draws,
        n,
        rate,
        data,
    }
}
