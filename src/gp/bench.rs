//! `wavesplat bench gp`: draws per second of the middle C preset at 44.1 kHz
//! over its full 90001 samples, GPU circulant embedding against the CPU paths
//! (f64 circulant with rustfft, the state-space recursion), and dense Cholesky
//! on the post's 5000-point grid (t = 0, 18, ..., 90000 samples: 2450 Hz).

use super::circulant::Embedding;
use super::gpu::CirculantJob;
use super::{SampleConfig, cpu, dense, presets};
use crate::bench::{best_seconds, timing_method};
use crate::error::Result;
use crate::gpu::GpuContext;
use crate::gpu::copy::time_passes;
use crate::stft::cpu::resolve_threads;
use std::time::Instant;

/// The whole `bench gp` report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GpReport {
    pub adapter: crate::gpu::AdapterSummary,
    pub timing: String,
    pub n: usize,
    pub embedding: usize,
    /// Eigenvalues of both cores (CPU, f64) and amplitudes: once per kernel and grid.
    pub setup_seconds: f64,
    /// Draws per GPU submission.
    pub gpu_draws: usize,
    /// GPU kernels only (noise, FFT, amplitude and mixing).
    pub gpu_draws_per_second: f64,
    /// GPU end to end: uploads, kernels and read-back.
    pub gpu_end_to_end_draws_per_second: f64,
    pub cpu_circulant_draws_per_second: f64,
    pub state_space_draws_per_second: f64,
    /// Damped-oscillator terms the state-space sampler runs per draw.
    pub state_space_terms: usize,
    pub cpu_threads: usize,
    pub cholesky_n: usize,
    pub cholesky_factor_seconds: f64,
    pub cholesky_draws_per_second: f64,
}

/// Runs the GP benchmark: `draws` draws per GPU submission, dense Cholesky at `cholesky_n`.
pub fn bench_gp(ctx: &GpuContext, draws: usize, cholesky_n: usize) -> Result<GpReport> {
    let model = presets::middle_c();
    let cfg = SampleConfig::new(44_100.0, presets::MIDDLE_C_SECONDS, draws.max(2), 1)?;
    let start = Instant::now();
    let embedding = Embedding::new(&model, cfg.rate, cfg.n)?;
    let setup_seconds = start.elapsed().as_secs_f64();
    let pairs = cfg.draws.div_ceil(2);

    let job = CirculantJob::new(ctx, &embedding, cfg.seed, 0, pairs)?;
    let gpu = time_passes(ctx, 1, 3, |encoder, writes| {
        job.record_timed(encoder, writes);
        Ok(())
    })?;
    drop(job);
    let end_to_end = best_seconds(2, || {
        super::gpu::circulant_draws(ctx, &embedding, 2 * pairs, cfg.seed).map(drop)
    })?;

    let threads = resolve_threads(0);
    let cpu_draws = 2 * threads;
    let cpu_circulant = best_seconds(2, || {
        cpu::circulant_draws(&embedding, cpu_draws, cfg.seed, threads);
        Ok(())
    })?;
    let ss_cfg = SampleConfig {
        draws: cpu_draws,
        ..cfg
    };
    let state_space = best_seconds(2, || {
        cpu::state_space_sample(&model, &ss_cfg, threads).map(drop)
    })?;
    let state_space_terms = model
        .components
        .iter()
        .filter_map(|c| c.kernel.oscillators())
        .map(|t| t.len())
        .sum();

    // Dense Cholesky on the post's grid: same span, every 18th sample.
    let post_rate = 44_100.0 / 18.0;
    let n = cholesky_n;
    let start = Instant::now();
    let mut l = dense::covariance_matrix(&model, post_rate, n, dense::JITTER)?;
    dense::cholesky(&mut l, n, threads)?;
    let cholesky_factor_seconds = start.elapsed().as_secs_f64();
    let chol_draws = 8;
    let per_batch = best_seconds(1, || {
        dense::cholesky_draws(&l, n, post_rate, chol_draws, 1);
        Ok(())
    })?;

    Ok(GpReport {
        adapter: ctx.summary().clone(),
        timing: timing_method(ctx).to_string(),
        n: cfg.n,
        embedding: embedding.m,
        setup_seconds,
        gpu_draws: 2 * pairs,
        gpu_draws_per_second: (2 * pairs) as f64 / gpu,
        gpu_end_to_end_draws_per_second: (2 * pairs) as f64 / end_to_end,
        cpu_circulant_draws_per_second: cpu_draws as f64 / cpu_circulant,
        state_space_draws_per_second: cpu_draws as f64 / state_space,
        state_space_terms,
        cpu_threads: threads,
        cholesky_n: n,
        cholesky_factor_seconds,
        cholesky_draws_per_second: chol_draws as f64 / per_batch,
    })
}

impl std::fmt::Display for GpReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "device: {} ({}, {}); GPU times from {}",
            self.adapter.name, self.adapter.backend, self.adapter.device_type, self.timing
        )?;
        writeln!(
            f,
            "middle C, 44.1 kHz, {} samples; circulant embedding M = {} (2 cores); setup (eigenvalues, f64 CPU) {:.1} ms",
            self.n,
            self.embedding,
            1e3 * self.setup_seconds
        )?;
        let row = |f: &mut std::fmt::Formatter<'_>, name: &str, rate: f64, note: String| {
            writeln!(
                f,
                "{name:<34} {rate:>10.2} draws/s  {:>9.1} ms/draw  {note}",
                1e3 / rate
            )
        };
        row(
            f,
            "GPU circulant (kernels)",
            self.gpu_draws_per_second,
            format!("{} draws a submission", self.gpu_draws),
        )?;
        row(
            f,
            "GPU circulant (end to end)",
            self.gpu_end_to_end_draws_per_second,
            "uploads + read-back".into(),
        )?;
        row(
            f,
            "CPU circulant (rustfft f64)",
            self.cpu_circulant_draws_per_second,
            format!("{} threads", self.cpu_threads),
        )?;
        row(
            f,
            "CPU state-space recursion",
            self.state_space_draws_per_second,
            format!(
                "{} threads, {} oscillators",
                self.cpu_threads, self.state_space_terms
            ),
        )?;
        row(
            f,
            &format!("dense Cholesky, n = {}", self.cholesky_n),
            self.cholesky_draws_per_second,
            format!(
                "after a {:.2} s factorisation ({} threads)",
                self.cholesky_factor_seconds, self.cpu_threads
            ),
        )
    }
}
