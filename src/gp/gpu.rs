//! Circulant-embedding sampling on the GPU (shaders/gp.wgsl on the shared
//! four-step FFT): one submission per chunk of draw pairs, three stages in one
//! compute pass: the scaled complex white noise of every (component, pair),
//! the batched FFT of all of them, then amplitude and mixing into the draws.
//! The eigenvalues (and the embedding size) come from [`Embedding`] on the CPU.

use super::circulant::Embedding;
use super::{Draws, Model, SampleConfig};
use crate::error::{Error, Result};
use crate::gpu::large_fft::LargeFftSteps;
use crate::gpu::{GpuContext, LINEAR_WORKGROUP, PooledBuffer, dispatch_2d, shader};
use std::sync::Arc;

/// Keep in sync with `GpParams` in shaders/gp.wgsl (sizes checked by a test).
#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct GpParams {
    m: u32,
    log2_m: u32,
    n: u32,
    components: u32,
    pairs: u32,
    first_pair: u32,
    seed_lo: u32,
    seed_hi: u32,
    noise_total: u32,
    noise_groups_x: u32,
    draws_total: u32,
    draws_groups_x: u32,
}

/// Bytes one buffer of a job may take at most (the device's binding limit
/// may be lower).
const JOB_BUFFER_BYTES: u64 = 256 << 20;

fn pipeline(ctx: &GpuContext, entry: &str) -> Result<Arc<wgpu::ComputePipeline>> {
    ctx.pipeline("gp", entry, || shader::GP_WGSL.to_string())
}

fn groups(ctx: &GpuContext, invocations: usize) -> (u32, u32) {
    let groups = invocations.div_ceil(LINEAR_WORKGROUP as usize) as u32;
    dispatch_2d(groups, ctx.max_groups_per_dimension())
}

/// Parameters of `pairs` pairs from `first_pair` over `components` rows of `m`.
fn params(
    ctx: &GpuContext,
    (m, n, components): (usize, usize, usize),
    seed: u64,
    first_pair: usize,
    pairs: usize,
) -> GpParams {
    let noise_total = components * pairs * m;
    let draws_total = 2 * pairs * n;
    GpParams {
        m: m as u32,
        log2_m: m.trailing_zeros(),
        n: n as u32,
        components: components as u32,
        pairs: pairs as u32,
        first_pair: first_pair as u32,
        seed_lo: seed as u32,
        seed_hi: (seed >> 32) as u32,
        noise_total: noise_total as u32,
        noise_groups_x: groups(ctx, noise_total).0,
        draws_total: draws_total as u32,
        draws_groups_x: groups(ctx, draws_total).0,
    }
}

/// One dispatch with its bind group.
struct Dispatch {
    pipeline: Arc<wgpu::ComputePipeline>,
    bind_group: wgpu::BindGroup,
    groups: (u32, u32),
}

impl Dispatch {
    fn new(
        ctx: &GpuContext,
        entry: &str,
        buffers: &[(u32, &PooledBuffer<'_>)],
        invocations: usize,
    ) -> Result<Self> {
        let pipeline = pipeline(ctx, entry)?;
        let bind_group = ctx.bind_group(&format!("gp.{entry}"), &pipeline, buffers)?;
        Ok(Dispatch {
            pipeline,
            bind_group,
            groups: groups(ctx, invocations),
        })
    }

    fn record(&self, pass: &mut wgpu::ComputePass<'_>) {
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &self.bind_group, &[]);
        pass.dispatch_workgroups(self.groups.0, self.groups.1, 1);
    }
}

/// `pairs` draw pairs (from `first_pair`) of an embedding, uploaded and
/// ready: [`CirculantJob::record_timed`] may be called repeatedly
/// (benchmarks), [`CirculantJob::run`] records once and reads the draws back.
pub struct CirculantJob<'a> {
    ctx: &'a GpuContext,
    noise: Dispatch,
    fft: LargeFftSteps<'a>,
    combine: Dispatch,
    draws: PooledBuffer<'a>,
    _buffers: Vec<PooledBuffer<'a>>,
    /// Draws one record makes (2 per pair).
    pub draw_count: usize,
}

impl<'a> CirculantJob<'a> {
    /// Prepares `pairs` pairs of draws from `first_pair` with `seed`.
    pub fn new(
        ctx: &'a GpuContext,
        embedding: &Embedding,
        seed: u64,
        first_pair: usize,
        pairs: usize,
    ) -> Result<Self> {
        let (m, n, components) = (embedding.m, embedding.n, embedding.components());
        let spectrum_bytes = (components * pairs * m * 8) as u64;
        if pairs == 0 || spectrum_bytes > ctx.max_binding() {
            return Err(Error::OutOfMemory(format!(
                "{pairs} pairs of {components} embeddings of {m} points need {spectrum_bytes} bytes; the device binds at most {}",
                ctx.max_binding()
            )));
        }
        let flat =
            |rows: &[Vec<f64>]| -> Vec<f32> { rows.concat().iter().map(|&v| v as f32).collect() };
        let sqrt_spectrum = ctx.upload("gp.sqrt_spectrum", &flat(&embedding.sqrt_spectrum))?;
        let amplitude = ctx.upload("gp.amplitude", &flat(&embedding.amplitudes))?;
        let spectrum = ctx.output_buffer("gp.spectrum", spectrum_bytes)?;
        let transformed = ctx.output_buffer("gp.transformed", spectrum_bytes)?;
        let draws = ctx.output_buffer("gp.draws", (2 * pairs * n * 4) as u64)?;
        let p = params(ctx, (m, n, components), seed, first_pair, pairs);
        let uniform = ctx.uniform("gp.params", &p)?;
        let noise = Dispatch::new(
            ctx,
            "noise",
            &[(0, &sqrt_spectrum), (1, &spectrum), (2, &uniform)],
            p.noise_total as usize,
        )?;
        let fft = LargeFftSteps::new(ctx, &spectrum, &transformed, m, components * pairs, false)?;
        let combine = Dispatch::new(
            ctx,
            "combine",
            &[
                (2, &uniform),
                (3, &transformed),
                (4, &amplitude),
                (5, &draws),
            ],
            p.draws_total as usize,
        )?;
        Ok(CirculantJob {
            ctx,
            noise,
            fft,
            combine,
            draws,
            _buffers: vec![sqrt_spectrum, amplitude, spectrum, transformed, uniform],
            draw_count: 2 * pairs,
        })
    }

    /// Records noise, FFT and combination into one compute pass.
    pub fn record_timed(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        timestamp_writes: Option<wgpu::ComputePassTimestampWrites<'_>>,
    ) {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("gp.circulant"),
            timestamp_writes,
        });
        self.noise.record(&mut pass);
        self.fft.record(&mut pass);
        self.combine.record(&mut pass);
    }

    /// Runs the job and reads its 2 x pairs draws back (row-major).
    pub fn run(self) -> Result<Vec<f32>> {
        let mut encoder = self.ctx.encoder("gp.circulant");
        self.record_timed(&mut encoder, None);
        let staging = self.ctx.copy_to_staging(&mut encoder, &self.draws)?;
        self.ctx.submit_and_wait("gp.circulant", encoder)?;
        Ok(self.ctx.read_staging::<f32>(&[&staging])?.remove(0))
    }
}

/// Draws of `model` by circulant embedding on the GPU: the same draws as
/// [`super::cpu::circulant_sample`] for the same seed, to float tolerance.
pub fn circulant_sample(ctx: &GpuContext, model: &Model, cfg: &SampleConfig) -> Result<Draws> {
    cfg.validate()?;
    let embedding = Embedding::new(model, cfg.rate, cfg.n)?;
    circulant_draws(ctx, &embedding, cfg.draws, cfg.seed)
}

/// Draw pairs one submission takes for `embedding` on this device.
pub fn pairs_per_submission(ctx: &GpuContext, embedding: &Embedding) -> usize {
    let per_pair = (embedding.components() * embedding.m * 8) as u64;
    let budget = ctx.max_binding().min(JOB_BUFFER_BYTES);
    ((budget / per_pair) as usize).max(1)
}

/// Draws from a prepared embedding, as many pairs per submission as fit.
pub fn circulant_draws(
    ctx: &GpuContext,
    embedding: &Embedding,
    draws: usize,
    seed: u64,
) -> Result<Draws> {
    let pairs = draws.div_ceil(2);
    let per_job = pairs_per_submission(ctx, embedding);
    let mut data = Vec::with_capacity(2 * pairs * embedding.n);
    let mut first = 0;
    while first < pairs {
        let count = per_job.min(pairs - first);
        data.extend(CirculantJob::new(ctx, embedding, seed, first, count)?.run()?);
        first += count;
    }
    data.truncate(draws * embedding.n);
    Ok(Draws {
        draws,
        n: embedding.n,
        rate: embedding.rate,
        data,
    })
}

/// Runs the `noise` kernel alone: `pairs` pairs from `first_pair` for the
/// components x m values of `sqrt_spectrum` (testing against
/// [`super::cpu::noise_spectrum`]).
pub fn noise_on_gpu(
    ctx: &GpuContext,
    sqrt_spectrum: &[f32],
    m: usize,
    seed: u64,
    first_pair: usize,
    pairs: usize,
) -> Result<Vec<[f32; 2]>> {
    check_power_of_two(m)?;
    let components = sqrt_spectrum.len() / m;
    let p = params(ctx, (m, 1, components), seed, first_pair, pairs);
    let input = ctx.upload("gp.sqrt_spectrum", sqrt_spectrum)?;
    let output = ctx.output_buffer("gp.spectrum", (components * pairs * m * 8) as u64)?;
    let uniform = ctx.uniform("gp.params", &p)?;
    let dispatch = Dispatch::new(
        ctx,
        "noise",
        &[(0, &input), (1, &output), (2, &uniform)],
        p.noise_total as usize,
    )?;
    let flat = run_one(ctx, &dispatch, &output)?;
    Ok(flat.chunks(2).map(|c| [c[0], c[1]]).collect())
}

/// Runs the `combine` kernel alone on transformed `values` (components x
/// pairs x m) and `amplitudes` (components x n) (testing against
/// [`super::cpu::combine`]).
pub fn combine_on_gpu(
    ctx: &GpuContext,
    values: &[[f32; 2]],
    amplitudes: &[f32],
    m: usize,
    n: usize,
    pairs: usize,
) -> Result<Vec<f32>> {
    check_power_of_two(m)?;
    let components = amplitudes.len() / n;
    let p = params(ctx, (m, n, components), 0, 0, pairs);
    let values = ctx.upload("gp.transformed", values)?;
    let amplitudes = ctx.upload("gp.amplitude", amplitudes)?;
    let output = ctx.output_buffer("gp.draws", (2 * pairs * n * 4) as u64)?;
    let uniform = ctx.uniform("gp.params", &p)?;
    let dispatch = Dispatch::new(
        ctx,
        "combine",
        &[(2, &uniform), (3, &values), (4, &amplitudes), (5, &output)],
        p.draws_total as usize,
    )?;
    run_one(ctx, &dispatch, &output)
}

fn check_power_of_two(m: usize) -> Result<()> {
    if m.is_power_of_two() {
        Ok(())
    } else {
        Err(Error::invalid(
            "embedding size",
            format!("{m} is not a power of two"),
        ))
    }
}

fn run_one(ctx: &GpuContext, dispatch: &Dispatch, output: &PooledBuffer<'_>) -> Result<Vec<f32>> {
    let mut encoder = ctx.encoder("gp");
    {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("gp"),
            timestamp_writes: None,
        });
        dispatch.record(&mut pass);
    }
    let staging = ctx.copy_to_staging(&mut encoder, output)?;
    ctx.submit_and_wait("gp", encoder)?;
    Ok(ctx.read_staging::<f32>(&[&staging])?.remove(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_match_the_shader_layout() {
        let size = shader::wgsl_struct_size(shader::GP_WGSL, "GpParams").unwrap();
        assert_eq!(size as usize, size_of::<GpParams>());
    }
}
