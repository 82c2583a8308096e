//! GPU convolution by uniformly partitioned overlap-save (shaders/conv.wgsl).
//!
//! Kernels are cut into P partitions of B taps and transformed once. The
//! output is produced in chunks of output blocks; each chunk uploads only the
//! input samples it needs (its blocks and the P - 1 before them), so device
//! memory stays bounded whatever the input length, and since every block's
//! spectrum and sum are computed the same way in any chunk, chunked output is
//! bit-identical to unchunked output.

use super::{ConvConfig, check_inputs, check_pairing};
use crate::error::{Error, Result};
use crate::gpu::fft::{self, FftPlan};
use crate::gpu::{GpuContext, PooledBuffer, dispatch_2d, shader};
use std::sync::Arc;

/// Keep in sync with `ConvParams` in shaders/conv.wgsl (sizes checked by a test).
#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct ConvParams {
    window_len: u32,
    frames: u32,
    hop: u32,
    take: u32,
    partitions: u32,
    out_blocks: u32,
    first_out_in_x: u32,
    x_frames: u32,
    kernel_stride: u32,
    groups_per_source: u32,
    groups_x: u32,
    sources: u32,
}

/// Device memory one buffer of a chunk may take at most.
const CHUNK_BUFFER_BYTES: u64 = 256 << 20;

/// Which transform a conv.wgsl pipeline runs.
#[derive(Debug, Clone, Copy)]
pub enum Stage {
    Forward,
    Inverse,
}

/// The `fft_source` conv.wgsl expects from the host for `stage`.
pub fn source_for(stage: Stage) -> &'static str {
    match stage {
        Stage::Forward => {
            "fn fft_source(frame: u32, n: u32) -> vec2<f32> { return window_pair(frame, n); }\n"
        }
        Stage::Inverse => {
            "fn fft_source(frame: u32, n: u32) -> vec2<f32> { return acc_pair(frame, n); }\n"
        }
    }
}

/// The three pipelines and the plan of one block size.
struct Kernels {
    plan: FftPlan,
    spectra: Arc<wgpu::ComputePipeline>,
    accumulate: Arc<wgpu::ComputePipeline>,
    inverse: Arc<wgpu::ComputePipeline>,
}

impl Kernels {
    fn new(ctx: &GpuContext, block: usize) -> Result<Self> {
        let plan = FftPlan::new(2 * block, ctx.fft_device())?;
        let forward = source_for(Stage::Forward);
        let inverse = source_for(Stage::Inverse);
        let conv = shader::CONV_WGSL;
        Ok(Kernels {
            spectra: fft::pipeline(ctx, "conv.forward", conv, &plan, forward, "spectra")?,
            accumulate: fft::pipeline(ctx, "conv.forward", conv, &plan, forward, "accumulate")?,
            inverse: fft::pipeline(ctx, "conv.inverse", conv, &plan, inverse, "inverse")?,
            plan,
        })
    }

    fn block(&self) -> usize {
        self.plan.m as usize
    }

    fn bins(&self) -> usize {
        self.block() + 1
    }
}

/// Shape of one convolution job.
#[derive(Debug, Clone, Copy)]
struct Shape {
    signals: usize,
    kernels: usize,
    block: usize,
    partitions: usize,
    /// Output blocks of the longest full convolution.
    out_blocks: usize,
}

/// Full convolution of each signal with its kernel (one kernel for all, or
/// one per signal) on the GPU: len(x) + len(h) - 1 samples each.
pub fn convolve(
    ctx: &GpuContext,
    signals: &[&[f32]],
    kernels: &[&[f32]],
    cfg: &ConvConfig,
) -> Result<Vec<Vec<f32>>> {
    check_inputs("signal", signals)?;
    check_inputs("kernel", kernels)?;
    check_pairing(signals.len(), kernels.len())?;
    let longest_kernel = kernels.iter().map(|h| h.len()).max().unwrap_or(1);
    let longest_signal = signals.iter().map(|x| x.len()).max().unwrap_or(1);
    let block = cfg.block_for(longest_kernel)?;
    let k = Kernels::new(ctx, block)?;
    let shape = Shape {
        signals: signals.len(),
        kernels: kernels.len(),
        block,
        partitions: longest_kernel.div_ceil(block),
        out_blocks: (longest_signal + longest_kernel - 1).div_ceil(block),
    };
    let kernel_bins = kernel_spectra(ctx, &k, kernels, &shape)?;
    let per_chunk = blocks_per_chunk(ctx, &shape, cfg)?;
    let mut outputs = vec![Vec::new(); signals.len()];
    for first in (0..shape.out_blocks).step_by(per_chunk) {
        let last = (first + per_chunk).min(shape.out_blocks);
        let chunk = convolve_chunk(ctx, &k, signals, 0, &kernel_bins, &shape, first..last)?;
        for (out, part) in outputs
            .iter_mut()
            .zip(chunk.chunks(shape.block * (last - first)))
        {
            out.extend_from_slice(part);
        }
    }
    for (i, out) in outputs.iter_mut().enumerate() {
        out.truncate(signals[i].len() + kernels[i % kernels.len()].len() - 1);
    }
    Ok(outputs)
}

/// Output blocks per submission: what fits the chunk budget after the P - 1
/// input blocks each chunk recomputes, capped by the config and the dispatch limit.
fn blocks_per_chunk(ctx: &GpuContext, shape: &Shape, cfg: &ConvConfig) -> Result<usize> {
    let budget = ctx.max_binding().min(CHUNK_BUFFER_BYTES);
    let frames = (budget / (shape.signals * (shape.block + 1) * 8) as u64) as usize;
    let fit = frames.saturating_sub(shape.partitions - 1);
    if fit == 0 {
        return Err(Error::OutOfMemory(format!(
            "{} signals with {} partitions of {} taps need more than {budget} bytes a chunk: \
             convolve fewer signals at once or use a larger partition",
            shape.signals, shape.partitions, shape.block
        )));
    }
    let limit = ctx.max_groups_per_dimension() as usize;
    Ok(fit
        .min(limit)
        .min(cfg.max_blocks_per_chunk.unwrap_or(usize::MAX))
        .max(1))
}

/// Transforms every kernel's partitions: K x P x (B + 1) bins.
fn kernel_spectra<'a>(
    ctx: &'a GpuContext,
    k: &Kernels,
    kernels: &[&[f32]],
    shape: &Shape,
) -> Result<PooledBuffer<'a>> {
    let window_len = shape.partitions * shape.block;
    let mut padded = vec![0.0f32; kernels.len() * window_len];
    for (h, dst) in kernels.iter().zip(padded.chunks_mut(window_len)) {
        dst[..h.len()].copy_from_slice(h);
    }
    let bins = ctx.output_buffer(
        "conv.kernel_bins",
        (kernels.len() * shape.partitions * k.bins() * 8) as u64,
    )?;
    let samples = ctx.upload("conv.kernels", &padded)?;
    let mut encoder = ctx.encoder("conv.kernel_spectra");
    let _params = record_spectra(
        ctx,
        k,
        &mut encoder,
        &samples,
        &bins,
        kernels.len(),
        shape.partitions,
        shape.block,
        window_len,
    )?;
    ctx.submit_and_wait("conv.kernel_spectra", encoder)?;
    Ok(bins)
}

/// Records the forward transforms of `sources` windows of `window_len`
/// samples, `frames` frames each, hop B, taking `take` samples a frame.
/// Returns the parameter buffer, which must outlive the submission (a pooled
/// buffer dropped earlier could be handed out and rewritten before it runs).
#[allow(clippy::too_many_arguments)] // one dispatch's complete description
fn record_spectra<'a>(
    ctx: &'a GpuContext,
    k: &Kernels,
    encoder: &mut wgpu::CommandEncoder,
    samples: &PooledBuffer<'_>,
    bins: &PooledBuffer<'_>,
    sources: usize,
    frames: usize,
    take: usize,
    window_len: usize,
) -> Result<PooledBuffer<'a>> {
    let groups_per_source = k.plan.groups_for(frames);
    let groups = dispatch_2d(
        groups_per_source * sources as u32,
        ctx.max_groups_per_dimension(),
    );
    let params = ctx.uniform(
        "conv.spectra.params",
        &ConvParams {
            window_len: window_len as u32,
            frames: frames as u32,
            hop: k.block() as u32,
            take: take as u32,
            groups_per_source,
            groups_x: groups.0,
            sources: sources as u32,
            ..Default::default()
        },
    )?;
    let group = ctx.bind_group(
        "conv.spectra",
        &k.spectra,
        &[(0, samples), (1, bins), (5, &params)],
    )?;
    let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
        label: Some("conv.spectra"),
        timestamp_writes: None,
    });
    pass.set_pipeline(&k.spectra);
    pass.set_bind_group(0, &group, &[]);
    pass.dispatch_workgroups(groups.0, groups.1, 1);
    drop(pass);
    Ok(params)
}

/// Input samples a chunk needs, per signal: from block x_first - 1 to the
/// chunk's last block, zero outside the signal. `signals` start at absolute
/// sample `origin` (a stream keeps only its recent history).
fn chunk_windows(
    signals: &[&[f32]],
    origin: usize,
    block: usize,
    x_first: usize,
    x_frames: usize,
) -> Vec<f32> {
    let window_len = (x_frames + 1) * block;
    let start = x_first as isize * block as isize - block as isize - origin as isize;
    let mut windows = vec![0.0f32; signals.len() * window_len];
    for (x, dst) in signals.iter().zip(windows.chunks_mut(window_len)) {
        let from = start.max(0) as usize;
        let to = (start + window_len as isize).max(0) as usize;
        if from < x.len() {
            let src = &x[from..to.min(x.len())];
            let offset = (from as isize - start) as usize;
            dst[offset..offset + src.len()].copy_from_slice(src);
        }
    }
    windows
}

/// Output blocks `blocks` of every signal: S x (blocks) x B samples.
fn convolve_chunk(
    ctx: &GpuContext,
    k: &Kernels,
    signals: &[&[f32]],
    origin: usize,
    kernel_bins: &PooledBuffer<'_>,
    shape: &Shape,
    blocks: std::ops::Range<usize>,
) -> Result<Vec<f32>> {
    let (s, b) = (shape.signals, shape.block);
    let x_first = blocks.start.saturating_sub(shape.partitions - 1);
    let x_frames = blocks.end - x_first;
    let out_blocks = blocks.len();
    let windows = ctx.upload(
        "conv.windows",
        &chunk_windows(signals, origin, b, x_first, x_frames),
    )?;
    let bins = ctx.output_buffer("conv.bins", (s * x_frames * k.bins() * 8) as u64)?;
    let acc = ctx.output_buffer("conv.acc", (s * out_blocks * k.bins() * 8) as u64)?;
    let output = ctx.output_buffer("conv.output", (s * out_blocks * b * 4) as u64)?;
    let mut encoder = ctx.encoder("conv.chunk");
    let _spectra_params = record_spectra(
        ctx,
        k,
        &mut encoder,
        &windows,
        &bins,
        s,
        x_frames,
        2 * b,
        (x_frames + 1) * b,
    )?;
    let groups_per_source = k.plan.groups_for(out_blocks);
    let groups = dispatch_2d(groups_per_source * s as u32, ctx.max_groups_per_dimension());
    let params = ctx.uniform(
        "conv.params",
        &ConvParams {
            partitions: shape.partitions as u32,
            out_blocks: out_blocks as u32,
            first_out_in_x: (blocks.start - x_first) as u32,
            x_frames: x_frames as u32,
            kernel_stride: if shape.kernels == 1 {
                0
            } else {
                shape.partitions as u32
            },
            groups_per_source,
            groups_x: groups.0,
            sources: s as u32,
            ..Default::default()
        },
    )?;
    let accumulate = ctx.bind_group(
        "conv.accumulate",
        &k.accumulate,
        &[(1, &bins), (2, kernel_bins), (3, &acc), (5, &params)],
    )?;
    let inverse = ctx.bind_group(
        "conv.inverse",
        &k.inverse,
        &[(3, &acc), (4, &output), (5, &params)],
    )?;
    {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("conv.accumulate_inverse"),
            timestamp_writes: None,
        });
        pass.set_pipeline(&k.accumulate);
        pass.set_bind_group(0, &accumulate, &[]);
        pass.dispatch_workgroups(k.bins().div_ceil(64) as u32, out_blocks as u32, s as u32);
        pass.set_pipeline(&k.inverse);
        pass.set_bind_group(0, &inverse, &[]);
        pass.dispatch_workgroups(groups.0, groups.1, 1);
    }
    let staging = ctx.copy_to_staging(&mut encoder, &output)?;
    ctx.submit_and_wait("conv.chunk", encoder)?;
    Ok(ctx.read_staging::<f32>(&[&staging])?.remove(0))
}

/// Convolution of signals that arrive piece by piece (a file read in blocks,
/// a live input) with fixed kernels. Device and host memory stay bounded by
/// the partitions and one chunk, whatever the length, and the output is
/// bit-identical to [`convolve`] of the whole signals.
pub struct ConvStream<'a> {
    ctx: &'a GpuContext,
    kernels: Kernels,
    kernel_bins: PooledBuffer<'a>,
    kernel_lens: Vec<usize>,
    shape: Shape,
    per_chunk: usize,
    /// Recent input per channel, from absolute sample `history_start`.
    history: Vec<Vec<f32>>,
    history_start: usize,
    received: usize,
    emitted_blocks: usize,
}

impl<'a> ConvStream<'a> {
    /// A stream of `channels` channels through `kernels` (one for all channels
    /// or one each).
    pub fn new(
        ctx: &'a GpuContext,
        kernels: &[&[f32]],
        channels: usize,
        cfg: &ConvConfig,
    ) -> Result<Self> {
        check_inputs("kernel", kernels)?;
        if channels == 0 {
            return Err(Error::invalid(
                "channels",
                "a stream needs at least one channel",
            ));
        }
        check_pairing(channels, kernels.len())?;
        let longest_kernel = kernels.iter().map(|h| h.len()).max().unwrap_or(1);
        let block = cfg.block_for(longest_kernel)?;
        let k = Kernels::new(ctx, block)?;
        let shape = Shape {
            signals: channels,
            kernels: kernels.len(),
            block,
            partitions: longest_kernel.div_ceil(block),
            out_blocks: 0,
        };
        let kernel_bins = kernel_spectra(ctx, &k, kernels, &shape)?;
        Ok(ConvStream {
            ctx,
            kernels: k,
            kernel_bins,
            kernel_lens: kernels.iter().map(|h| h.len()).collect(),
            per_chunk: blocks_per_chunk(ctx, &shape, cfg)?,
            shape,
            history: vec![Vec::new(); channels],
            history_start: 0,
            received: 0,
            emitted_blocks: 0,
        })
    }

    /// Adds the next samples of every channel (equal lengths) and returns the
    /// output samples this completes, per channel.
    pub fn push(&mut self, input: &[&[f32]]) -> Result<Vec<Vec<f32>>> {
        if input.len() != self.history.len() {
            return Err(Error::invalid(
                "stream input",
                format!(
                    "{} channels given to a stream of {}",
                    input.len(),
                    self.history.len()
                ),
            ));
        }
        let len = input[0].len();
        if input.iter().any(|c| c.len() != len) {
            return Err(Error::invalid(
                "stream input",
                "channels of one push must have equal lengths",
            ));
        }
        for (i, c) in input.iter().enumerate() {
            crate::error::check_finite(&format!("stream channel {i}"), c)?;
        }
        for (history, c) in self.history.iter_mut().zip(input) {
            history.extend_from_slice(c);
        }
        self.received += len;
        self.emit(self.received / self.shape.block)
    }

    /// Input samples per channel the stream holds now: at most the P
    /// partitions, one chunk and the last push, whatever has gone through.
    pub fn buffered_samples(&self) -> usize {
        self.history.first().map_or(0, Vec::len)
    }

    /// Flushes the tail (the kernel's ring-out) and returns it: after this the
    /// outputs add up to len(input) + len(kernel) - 1 samples per channel.
    pub fn finish(mut self) -> Result<Vec<Vec<f32>>> {
        let longest = self.kernel_lens.iter().copied().max().unwrap_or(1);
        let total_blocks = (self.received + longest - 1).div_ceil(self.shape.block);
        let first_sample = self.emitted_blocks * self.shape.block;
        let mut tail = self.emit(total_blocks)?;
        for (c, out) in tail.iter_mut().enumerate() {
            let kernel = self.kernel_lens[c % self.kernel_lens.len()];
            out.truncate((self.received + kernel - 1).saturating_sub(first_sample));
        }
        Ok(tail)
    }

    /// Computes output blocks up to `until`, then drops history no later
    /// block needs (the P - 1 blocks before the next one, and the one before those).
    fn emit(&mut self, until: usize) -> Result<Vec<Vec<f32>>> {
        let mut outputs = vec![Vec::new(); self.history.len()];
        while self.emitted_blocks < until {
            let last = (self.emitted_blocks + self.per_chunk).min(until);
            let views: Vec<&[f32]> = self.history.iter().map(Vec::as_slice).collect();
            let blocks = self.emitted_blocks..last;
            let chunk = convolve_chunk(
                self.ctx,
                &self.kernels,
                &views,
                self.history_start,
                &self.kernel_bins,
                &self.shape,
                blocks.clone(),
            )?;
            for (out, part) in outputs
                .iter_mut()
                .zip(chunk.chunks(self.shape.block * blocks.len()))
            {
                out.extend_from_slice(part);
            }
            self.emitted_blocks = last;
        }
        let keep_from =
            self.emitted_blocks.saturating_sub(self.shape.partitions) * self.shape.block;
        if keep_from > self.history_start {
            let drop = keep_from - self.history_start;
            for history in &mut self.history {
                history.drain(..drop.min(history.len()));
            }
            self.history_start = keep_from;
        }
        Ok(outputs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_windows_take_the_blocks_before_and_zero_outside() {
        let x: Vec<f32> = (1..=10).map(|v| v as f32).collect();
        // Block 4, chunk input blocks 0..2: samples -4..8.
        let w = chunk_windows(&[&x], 0, 4, 0, 2);
        assert_eq!(w, vec![0., 0., 0., 0., 1., 2., 3., 4., 5., 6., 7., 8.]);
        // Input blocks 2..4: samples 4..16, zero past the end.
        let w = chunk_windows(&[&x], 0, 4, 2, 2);
        assert_eq!(w, vec![5., 6., 7., 8., 9., 10., 0., 0., 0., 0., 0., 0.]);
        // The same from a history that starts at sample 4.
        let w = chunk_windows(&[&x[4..]], 4, 4, 2, 2);
        assert_eq!(w, vec![5., 6., 7., 8., 9., 10., 0., 0., 0., 0., 0., 0.]);
    }

    #[test]
    fn params_match_the_shader_layout() {
        let plan = FftPlan::new(512, crate::gpu::fft::FftDevice::gpu(16384)).unwrap();
        let source =
            shader::compose_fft_kernel(&plan, source_for(Stage::Forward), shader::CONV_WGSL);
        let size = shader::wgsl_struct_size(&source, "ConvParams").unwrap();
        assert_eq!(size as usize, size_of::<ConvParams>());
    }
}
