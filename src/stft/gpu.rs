//! GPU STFT and ISTFT. Every resolution of a batch is recorded into one command
//! encoder and submitted once; results are read back once.

use super::cpu::{check_invertible, istft_length};
use super::{Spectrogram, SpectrumFormat, StftConfig, check_batch};
use crate::error::{Error, Result};
use crate::gpu::fft::FftPlan;
use crate::gpu::{GpuContext, LINEAR_WORKGROUP, PooledBuffer, dispatch_2d, shader};
use std::sync::Arc;

/// Keep in sync with `StftParams` in shaders/stft.wgsl (sizes checked by a test).
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
pub(super) struct StftParams {
    pub signal_len: u32,
    pub first_signal: u32,
    pub signals: u32,
    pub first_frame: u32,
    pub frames: u32,
    pub groups_per_signal: u32,
    pub hop: u32,
    pub groups_x: u32,
    pub window: [f32; 4],
}

/// A rectangle of work one dispatch covers: whole signals when a signal's
/// output fits one binding, else a range of one signal's frames. Blocks in
/// order concatenate to the signals x frames x bins layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    pub first_signal: usize,
    pub signals: usize,
    pub first_frame: usize,
    pub frames: usize,
}

/// Splits `signals` x `frames` into blocks of at most `max_frames` frames.
pub fn plan_blocks(signals: usize, frames: usize, max_frames: usize) -> Vec<Block> {
    let max_frames = max_frames.max(1);
    if frames <= max_frames {
        let per_block = max_frames / frames;
        return (0..signals)
            .step_by(per_block)
            .map(|first| Block {
                first_signal: first,
                signals: per_block.min(signals - first),
                first_frame: 0,
                frames,
            })
            .collect();
    }
    (0..signals)
        .flat_map(|signal| {
            (0..frames).step_by(max_frames).map(move |first| Block {
                first_signal: signal,
                signals: 1,
                first_frame: first,
                frames: max_frames.min(frames - first),
            })
        })
        .collect()
}

/// Keep in sync with `IstftParams` in shaders/istft.wgsl (sizes checked by a test).
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
pub(super) struct IstftParams {
    pub frames_per_signal: u32,
    pub total_frames: u32,
    pub hop: u32,
    pub out_len: u32,
    pub signals: u32,
    pub groups_x: u32,
    /// `overlap_add_adjoint` adds to its output (1) or overwrites it (0).
    pub accumulate: u32,
    pub _pad: u32,
}

/// Kernel constants of the STFT shader for `cfg`: the bin type and the
/// `store_bin` that converts and stores each bin (see shaders/stft.wgsl).
pub fn stft_constants(cfg: &StftConfig) -> String {
    let (bin, convert) = match cfg.format {
        SpectrumFormat::Complex => ("vec2<f32>", "bin_complex"),
        SpectrumFormat::Magnitude => ("f32", "bin_magnitude"),
        SpectrumFormat::Power => ("f32", "bin_power"),
        SpectrumFormat::Db => ("f32", "bin_db"),
    };
    format!(
        "alias Bin = {bin};\nfn store_bin(i: u32, k: u32, x: vec2<f32>) {{ spectra[i] = {convert}(x); }}\n"
    )
}

pub(super) fn window_terms(cfg: &StftConfig) -> [f32; 4] {
    let [a0, a1, a2] = cfg.window.cosine_terms();
    [a0 as f32, a1 as f32, a2 as f32, 0.0]
}

pub(super) fn window_f32(cfg: &StftConfig) -> Vec<f32> {
    cfg.window
        .coefficients(cfg.n_fft)
        .iter()
        .map(|&w| w as f32)
        .collect()
}

/// One dispatch's worth of frames of one resolution.
struct Chunk<'a> {
    output: PooledBuffer<'a>,
    _params: PooledBuffer<'a>,
    bind_group: wgpu::BindGroup,
    groups: (u32, u32),
}

/// Everything one resolution needs on the device.
struct Resolution<'a> {
    cfg: StftConfig,
    frames_per_signal: usize,
    pipeline: Arc<wgpu::ComputePipeline>,
    chunks: Vec<Chunk<'a>>,
}

/// A batch uploaded and ready to transform at one or more resolutions.
/// [`StftJob::record`] can be called repeatedly (benchmarks); [`StftJob::run`]
/// records once, submits, and reads the spectrograms back.
pub struct StftJob<'a> {
    ctx: &'a GpuContext,
    signals: usize,
    signal_len: usize,
    _input: PooledBuffer<'a>,
    resolutions: Vec<Resolution<'a>>,
}

impl<'a> StftJob<'a> {
    /// Uploads `signals` (equal lengths) and prepares every resolution in `cfgs`.
    pub fn new(ctx: &'a GpuContext, signals: &[&[f32]], cfgs: &[StftConfig]) -> Result<Self> {
        let len = check_batch(signals)?;
        if cfgs.is_empty() {
            return Err(Error::invalid("resolutions", "no STFT configuration given"));
        }
        for cfg in cfgs {
            cfg.validate_for_length(len)?;
        }
        let input_bytes = (signals.len() * len * 4) as u64;
        if input_bytes > ctx.max_binding() {
            return Err(Error::OutOfMemory(format!(
                "a batch of {input_bytes} bytes exceeds the device's largest storage binding \
                 ({} bytes): split it into smaller batches",
                ctx.max_binding()
            )));
        }
        let flat: Vec<f32> = signals.iter().flat_map(|s| s.iter().copied()).collect();
        let input = ctx.upload("stft.signals", &flat)?;
        let resolutions = cfgs
            .iter()
            .map(|cfg| prepare_resolution(ctx, &input, signals.len(), len, cfg))
            .collect::<Result<Vec<_>>>()?;
        Ok(StftJob {
            ctx,
            signals: signals.len(),
            signal_len: len,
            _input: input,
            resolutions,
        })
    }

    /// Records every resolution's dispatches into `encoder`.
    pub fn record(&self, encoder: &mut wgpu::CommandEncoder) {
        self.record_timed(encoder, None);
    }

    /// [`StftJob::record`] in one compute pass with optional timestamp writes.
    pub fn record_timed(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        timestamp_writes: Option<wgpu::ComputePassTimestampWrites<'_>>,
    ) {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("stft"),
            timestamp_writes,
        });
        for resolution in &self.resolutions {
            pass.set_pipeline(&resolution.pipeline);
            for chunk in &resolution.chunks {
                pass.set_bind_group(0, &chunk.bind_group, &[]);
                pass.dispatch_workgroups(chunk.groups.0, chunk.groups.1, 1);
            }
        }
    }

    /// Frames transformed by one [`StftJob::record`], all resolutions together.
    pub fn total_frames(&self) -> usize {
        self.resolutions
            .iter()
            .map(|r| r.frames_per_signal * self.signals)
            .sum()
    }

    /// Device-memory bytes one [`StftJob::record`] must move at least: every
    /// frame's samples read once and its bins written once.
    pub fn bytes_moved(&self) -> u64 {
        self.resolutions
            .iter()
            .map(|r| {
                let per_frame = r.cfg.n_fft + r.cfg.bins() * r.cfg.format.floats_per_bin();
                (r.frames_per_signal * self.signals * per_frame * 4) as u64
            })
            .sum()
    }

    /// Runs the transforms and reads the spectrograms back, one per resolution.
    pub fn run(self) -> Result<Vec<Spectrogram>> {
        let mut encoder = self.ctx.encoder("stft");
        self.record(&mut encoder);
        let mut staging = Vec::new();
        for resolution in &self.resolutions {
            for chunk in &resolution.chunks {
                staging.push(self.ctx.copy_to_staging(&mut encoder, &chunk.output)?);
            }
        }
        self.ctx.submit_and_wait("stft", encoder)?;
        let refs: Vec<&PooledBuffer> = staging.iter().collect();
        let mut parts = self.ctx.read_staging::<f32>(&refs)?.into_iter();
        let mut out = Vec::with_capacity(self.resolutions.len());
        for resolution in &self.resolutions {
            let mut data = Vec::new();
            for _ in &resolution.chunks {
                data.extend(parts.next().expect("one staging buffer per chunk"));
            }
            out.push(Spectrogram {
                signals: self.signals,
                frames: resolution.cfg.frames(self.signal_len),
                bins: resolution.cfg.bins(),
                format: resolution.cfg.format,
                data,
            });
        }
        Ok(out)
    }
}

fn prepare_resolution<'a>(
    ctx: &'a GpuContext,
    input: &PooledBuffer<'a>,
    signals: usize,
    len: usize,
    cfg: &StftConfig,
) -> Result<Resolution<'a>> {
    let plan = FftPlan::real_forward(cfg.n_fft, ctx.fft_device())?;
    let pipeline = crate::gpu::fft::pipeline(
        ctx,
        "stft",
        shader::STFT_WGSL,
        &plan,
        &stft_constants(cfg),
        "main",
    )?;
    let frames_per_signal = cfg.frames(len);
    let bytes_per_frame = (cfg.bins() * cfg.format.floats_per_bin() * 4) as u64;
    let max_frames = (ctx.max_binding() / bytes_per_frame).max(1) as usize;
    let mut chunks = Vec::new();
    for block in plan_blocks(signals, frames_per_signal, max_frames) {
        let count = block.signals * block.frames;
        let output = ctx.output_buffer("stft.spectra", count as u64 * bytes_per_frame)?;
        let groups_per_signal = plan.groups_for(block.frames);
        let groups = dispatch_2d(
            groups_per_signal * block.signals as u32,
            ctx.max_groups_per_dimension(),
        );
        let params = StftParams {
            signal_len: len as u32,
            first_signal: block.first_signal as u32,
            signals: block.signals as u32,
            first_frame: block.first_frame as u32,
            frames: block.frames as u32,
            groups_per_signal,
            hop: cfg.hop as u32,
            groups_x: groups.0,
            window: window_terms(cfg),
        };
        let params = ctx.uniform("stft.params", &params)?;
        let bind_group =
            ctx.bind_group("stft", &pipeline, &[(0, input), (1, &output), (2, &params)])?;
        chunks.push(Chunk {
            output,
            _params: params,
            bind_group,
            groups,
        });
    }
    Ok(Resolution {
        cfg: *cfg,
        frames_per_signal,
        pipeline,
        chunks,
    })
}

/// STFT of a batch of equal-length signals on the GPU.
pub fn stft(ctx: &GpuContext, signals: &[&[f32]], cfg: &StftConfig) -> Result<Spectrogram> {
    Ok(stft_multi(ctx, signals, std::slice::from_ref(cfg))?.remove(0))
}

/// Several resolutions of the same batch in one submission (what a
/// multi-resolution STFT loss needs).
pub fn stft_multi(
    ctx: &GpuContext,
    signals: &[&[f32]],
    cfgs: &[StftConfig],
) -> Result<Vec<Spectrogram>> {
    StftJob::new(ctx, signals, cfgs)?.run()
}

/// Inverse STFT on the GPU by weighted overlap-add; `len` as in
/// [`super::cpu::istft_length`].
pub fn istft(
    ctx: &GpuContext,
    spec: &Spectrogram,
    cfg: &StftConfig,
    len: Option<usize>,
) -> Result<Vec<Vec<f32>>> {
    check_invertible(spec, cfg)?;
    let len = istft_length(cfg, spec.frames, len)?;
    let plan = FftPlan::new(cfg.n_fft, ctx.fft_device())?;
    let total_frames = spec.signals * spec.frames;
    let frame_bytes = (total_frames * cfg.n_fft * 4) as u64;
    if frame_bytes.max(spec.data.len() as u64 * 4) > ctx.max_binding() {
        return Err(Error::OutOfMemory(format!(
            "the inverse of {total_frames} frames needs {frame_bytes} bytes in one binding; the device allows {}",
            ctx.max_binding()
        )));
    }
    let inverse = crate::gpu::fft::pipeline(
        ctx,
        "istft",
        shader::ISTFT_WGSL,
        &plan,
        "",
        "inverse_frames",
    )?;
    let overlap =
        crate::gpu::fft::pipeline(ctx, "istft", shader::ISTFT_WGSL, &plan, "", "overlap_add")?;
    let window = ctx.upload("istft.window", &window_f32(cfg))?;
    let spectra = ctx.upload("istft.spectra", &spec.data)?;
    let frames = ctx.output_buffer("istft.frames", frame_bytes)?;
    let output = ctx.output_buffer("istft.output", (spec.signals * len * 4) as u64)?;
    let frame_groups = dispatch_2d(
        plan.groups_for(total_frames),
        ctx.max_groups_per_dimension(),
    );
    let sample_groups = ((spec.signals * len) as u32).div_ceil(LINEAR_WORKGROUP);
    let sample_groups = dispatch_2d(sample_groups, ctx.max_groups_per_dimension());
    let params = ctx.uniform(
        "istft.params",
        &IstftParams {
            frames_per_signal: spec.frames as u32,
            total_frames: total_frames as u32,
            hop: cfg.hop as u32,
            out_len: len as u32,
            signals: spec.signals as u32,
            groups_x: frame_groups.0,
            accumulate: 0,
            _pad: 0,
        },
    )?;
    let inverse_group = ctx.bind_group(
        "istft.frames",
        &inverse,
        &[(1, &window), (2, &spectra), (3, &frames), (5, &params)],
    )?;
    let overlap_group = ctx.bind_group(
        "istft.overlap_add",
        &overlap,
        &[(1, &window), (3, &frames), (4, &output), (5, &params)],
    )?;
    let mut encoder = ctx.encoder("istft");
    {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("istft"),
            timestamp_writes: None,
        });
        pass.set_pipeline(&inverse);
        pass.set_bind_group(0, &inverse_group, &[]);
        pass.dispatch_workgroups(frame_groups.0, frame_groups.1, 1);
        pass.set_pipeline(&overlap);
        pass.set_bind_group(0, &overlap_group, &[]);
        pass.dispatch_workgroups(sample_groups.0, sample_groups.1, 1);
    }
    let staging = ctx.copy_to_staging(&mut encoder, &output)?;
    ctx.submit_and_wait("istft", encoder)?;
    let flat = ctx.read_staging::<f32>(&[&staging])?.remove(0);
    Ok(flat.chunks(len).map(<[f32]>::to_vec).collect())
}

#[cfg(test)]
mod tests {
    use super::{Block, plan_blocks};

    #[test]
    fn blocks_cover_every_frame_once_in_layout_order() {
        for (signals, frames, max) in [(5, 10, 100), (5, 10, 25), (3, 10, 4), (1, 7, 7), (2, 9, 1)]
        {
            let blocks = plan_blocks(signals, frames, max);
            let mut covered = Vec::new();
            for b in &blocks {
                assert!(b.signals * b.frames <= max.max(1), "{b:?} over {max}");
                for s in b.first_signal..b.first_signal + b.signals {
                    for f in b.first_frame..b.first_frame + b.frames {
                        covered.push((s, f));
                    }
                }
            }
            let expected: Vec<(usize, usize)> = (0..signals)
                .flat_map(|s| (0..frames).map(move |f| (s, f)))
                .collect();
            assert_eq!(covered, expected, "{signals} x {frames} in blocks of {max}");
        }
        assert_eq!(
            plan_blocks(2, 3, 6),
            vec![Block {
                first_signal: 0,
                signals: 2,
                first_frame: 0,
                frames: 3
            }]
        );
    }
}

#[cfg(test)]
mod layout_tests {
    use super::{IstftParams, StftParams, stft_constants};
    use crate::gpu::fft::{FftDevice, FftPlan};
    use crate::gpu::shader;
    use crate::stft::StftConfig;

    #[test]
    fn host_parameter_structs_match_the_shaders() {
        let plan = FftPlan::new(1024, FftDevice::gpu(16384)).unwrap();
        let cfg = StftConfig::new(1024, 256);
        let stft = shader::compose_fft_kernel(&plan, &stft_constants(&cfg), shader::STFT_WGSL);
        let istft = shader::compose_fft_kernel(&plan, "", shader::ISTFT_WGSL);
        assert_eq!(
            shader::wgsl_struct_size(&stft, "StftParams").unwrap() as usize,
            size_of::<StftParams>()
        );
        assert_eq!(
            shader::wgsl_struct_size(&istft, "IstftParams").unwrap() as usize,
            size_of::<IstftParams>()
        );
    }
}
