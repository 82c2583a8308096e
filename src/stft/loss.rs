//! Multi-resolution STFT loss and its exact gradient with respect to the
//! candidate waveform: on the GPU ([`LossJob`]) and as an f64 CPU reference
//! ([`loss_reference`]).
//!
//! For a fixed target x and a candidate y of the same length, over R
//! resolutions (n_fft, hop) with torch centre/reflect framing (as the crate's
//! STFT) and F frames of K = n_fft / 2 + 1 bins each,
//!
//! ```text
//! L(y) = 1/R sum_res [ w_log mean |log10 max(|Y|^2, 1e-5) - log10 max(|X|^2, 1e-5)|
//!                    + w_lin mean ||Y| - |X|| ]
//! ```
//!
//! the means running over frames and bins. With w_log = w_lin = 1 and the
//! resolutions (2048, 512), (512, 128) this is the STFT distance of
//! [`crate::metrics::stft_distance`] (a mean over resolutions, as the metric).
//!
//! The gradient is the exact one of these L1 terms, with sign(0) = 0, zero
//! below the floor (1e-5, [`LossConfig::floor`]) of |Y|^2 and zero at Y = 0: per bin
//! dL/dY = dL/d|Y| * Y / |Y|, then the adjoint of the framed, windowed
//! one-sided DFT (per frame Re sum_k G_k e^{+2 pi i k n / N}, times the
//! window, summed at the frame's position), then the adjoint of the reflect
//! padding (padded samples folded back onto the samples they mirror). No
//! division by the window envelope: that would be the ISTFT, not the adjoint.
//!
//! On the GPU each resolution is three dispatches: `shaders/stft_loss.wgsl`
//! appended to `shaders/stft.wgsl` (the candidate's STFT, each bin's loss
//! term summed per workgroup, dL/dY written scaled for the one-sided
//! adjoint), `inverse_frames` of `shaders/istft.wgsl` (inverse real FFTs,
//! windowed) and its `overlap_add_adjoint` (the gather over frames with the
//! reflect fold, adding into one gradient for every resolution).

use super::cpu::stft_reference_f64;
use super::gpu::{IstftParams, StftParams, window_f32, window_terms};
use super::{SpectrumFormat, StftConfig, Window, reflect_index};
use crate::error::{Error, Result, check_finite};
use crate::gpu::fft::{self, FftPlan};
use crate::gpu::{GpuContext, LINEAR_WORKGROUP, PooledBuffer, dispatch_2d, shader};
use rustfft::FftPlanner;
use rustfft::num_complex::Complex;
use std::sync::{Arc, Mutex};

/// The default floor of |X|^2 and |Y|^2 before log10 (the metrics' floor).
pub const LOSS_FLOOR: f64 = crate::metrics::LOG_FLOOR;

/// The encoder's default resolutions (n_fft, hop).
pub const ENCODER_RESOLUTIONS: [(usize, usize); 5] =
    [(2048, 512), (1024, 256), (512, 128), (256, 64), (128, 32)];

/// What the loss compares: resolutions, window, the two terms' weights and
/// the log term's floor.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LossConfig {
    /// (n_fft, hop) of each resolution; the loss is the mean over them.
    pub resolutions: Vec<(usize, usize)>,
    /// Analysis window (periodic); Hann by default.
    pub window: Window,
    /// Weight of the log-power term, mean |log10 max(|Y|^2, 1e-5) - log10 max(|X|^2, 1e-5)|.
    pub log_weight: f64,
    /// Weight of the magnitude term, mean ||Y| - |X||.
    pub linear_weight: f64,
    /// Floor of |X|^2 and |Y|^2 before log10 ([`LOSS_FLOOR`], 1e-5, by
    /// default); the log term has no gradient in bins below it.
    pub floor: f64,
}

impl Default for LossConfig {
    /// [`ENCODER_RESOLUTIONS`], Hann, both weights 1, floor 1e-5.
    fn default() -> Self {
        LossConfig {
            resolutions: ENCODER_RESOLUTIONS.to_vec(),
            window: Window::Hann,
            log_weight: 1.0,
            linear_weight: 1.0,
            floor: LOSS_FLOOR,
        }
    }
}

impl LossConfig {
    /// The configuration whose loss is [`crate::metrics::stft_distance`].
    pub fn stft_distance() -> Self {
        LossConfig {
            resolutions: crate::metrics::STFT_WINDOWS.map(|n| (n, n / 4)).to_vec(),
            ..Self::default()
        }
    }

    /// The same with other resolutions.
    pub fn with_resolutions(self, resolutions: &[(usize, usize)]) -> Self {
        LossConfig {
            resolutions: resolutions.to_vec(),
            ..self
        }
    }

    /// One complex-output STFT configuration per resolution.
    pub fn stft_configs(&self) -> Vec<StftConfig> {
        self.resolutions
            .iter()
            .map(|&(n_fft, hop)| StftConfig {
                window: self.window,
                ..StftConfig::new(n_fft, hop)
            })
            .collect()
    }

    /// Checks the configuration for signals of `len` samples.
    pub fn validate_for_length(&self, len: usize) -> Result<()> {
        if self.resolutions.is_empty() {
            return Err(Error::invalid("resolutions", "the loss needs at least one"));
        }
        for (name, w) in [
            ("log weight", self.log_weight),
            ("linear weight", self.linear_weight),
        ] {
            if !(w.is_finite() && w >= 0.0) {
                return Err(Error::invalid(
                    "loss weight",
                    format!("{name} {w}: use a finite value >= 0"),
                ));
            }
        }
        if !(self.floor.is_finite() && self.floor > 0.0) {
            return Err(Error::invalid(
                "loss floor",
                format!("{}: use a finite value > 0", self.floor),
            ));
        }
        self.stft_configs()
            .iter()
            .try_for_each(|cfg| cfg.validate_for_length(len))
    }
}

/// Checks a (target, candidate) pair: equal, non-zero lengths. Returns the length.
pub(crate) fn check_pair(target: usize, candidate: usize) -> Result<usize> {
    if target == 0 {
        return Err(Error::invalid("target", "the target signal is empty"));
    }
    if candidate != target {
        return Err(Error::invalid(
            "candidate",
            format!(
                "{candidate} samples; the target has {target}: the loss compares equal lengths"
            ),
        ));
    }
    Ok(target)
}

/// One bin's loss term (unweighted by the mean) and dL/dY (a complex value
/// whose real and imaginary parts are the derivatives by Re Y and Im Y).
fn bin_term(y: Complex<f64>, x: Complex<f64>, cfg: &LossConfig) -> (f64, Complex<f64>) {
    let (power, x_power) = (y.norm_sqr(), x.norm_sqr());
    let magnitude = power.sqrt();
    let log_power = |p: f64| p.max(cfg.floor).log10();
    let log_diff = log_power(power) - log_power(x_power);
    let linear_diff = magnitude - x_power.sqrt();
    let term = cfg.log_weight * log_diff.abs() + cfg.linear_weight * linear_diff.abs();
    let sign = |v: f64| if v == 0.0 { 0.0 } else { v.signum() };
    // d log10(|Y|^2) / dY = 2 Y / (ln 10 |Y|^2) above the floor; d|Y|/dY = Y / |Y|.
    let mut scale = 0.0;
    if power > cfg.floor {
        scale += cfg.log_weight * sign(log_diff) * 2.0 / (std::f64::consts::LN_10 * power);
    }
    if magnitude > 0.0 {
        scale += cfg.linear_weight * sign(linear_diff) / magnitude;
    }
    (term, y * scale)
}

/// Loss and gradient in f64 on the CPU: the reference the GPU is tested
/// against. Errors for unequal or empty lengths, NaN or infinity, and
/// resolutions the signals are too short for.
pub fn loss_reference(target: &[f32], y: &[f32], cfg: &LossConfig) -> Result<(f64, Vec<f64>)> {
    check_pair(target.len(), y.len())?;
    check_finite("target", target)?;
    check_finite("candidate", y)?;
    let widen = |s: &[f32]| s.iter().map(|&v| f64::from(v)).collect::<Vec<f64>>();
    loss_reference_f64(&widen(target), &widen(y), cfg)
}

/// [`loss_reference`] of signals in f64 (finite differences step below an
/// f32 ulp).
pub fn loss_reference_f64(target: &[f64], y: &[f64], cfg: &LossConfig) -> Result<(f64, Vec<f64>)> {
    let len = check_pair(target.len(), y.len())?;
    cfg.validate_for_length(len)?;
    let per_resolution = 1.0 / cfg.resolutions.len() as f64;
    let (mut loss, mut gradient) = (0.0, vec![0.0; len]);
    for stft in cfg.stft_configs() {
        let spectra = stft_reference_f64(&[target, y], &stft)?;
        let (x, y_bins) = spectra.split_at(spectra.len() / 2);
        let per_bin = per_resolution / x.len() as f64;
        let bin_gradients: Vec<Complex<f64>> = x
            .iter()
            .zip(y_bins)
            .map(|(x, y)| {
                let (term, g) = bin_term(*y, *x, cfg);
                loss += per_bin * term;
                g * per_bin
            })
            .collect();
        add_framing_adjoint(&bin_gradients, &stft, &mut gradient);
    }
    Ok((loss, gradient))
}

/// Adds to `gradient` the adjoint of "frame (reflect-padded), window, take
/// the one-sided DFT" applied to `bins` (frames x bins of dL/dY): per frame,
/// Re sum_k G_k e^{+2 pi i k n / N} over the one-sided k (an unnormalised
/// inverse transform of the spectrum zero above N / 2), times the window,
/// added at the padded samples the frame read, each folded onto the signal
/// sample it mirrors.
fn add_framing_adjoint(bins: &[Complex<f64>], cfg: &StftConfig, gradient: &mut [f64]) {
    let n = cfg.n_fft;
    let window = cfg.window.coefficients(n);
    let inverse = FftPlanner::<f64>::new().plan_fft_inverse(n);
    let mut buffer = vec![Complex::new(0.0, 0.0); n];
    let len = gradient.len();
    for (f, frame) in bins.chunks_exact(cfg.bins()).enumerate() {
        buffer.fill(Complex::new(0.0, 0.0));
        buffer[..frame.len()].copy_from_slice(frame);
        inverse.process(&mut buffer);
        let start = (f * cfg.hop) as isize - (n / 2) as isize;
        for (t, (value, w)) in buffer.iter().zip(&window).enumerate() {
            gradient[reflect_index(start + t as isize, len)] += value.re * w;
        }
    }
}

/// Keep in sync with `LossParams` in shaders/stft_loss.wgsl (sizes checked by a test).
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct LossParams {
    /// The weights divided by resolutions x frames x bins.
    log_weight: f32,
    linear_weight: f32,
    floor: f32,
    _pad: f32,
}

/// The loss kernel's constant block: the bin type the STFT kernel stores
/// (`store_bin` comes from shaders/stft_loss.wgsl).
pub const LOSS_CONSTANTS: &str = "alias Bin = vec2<f32>;\n";

/// The loss kernel after the shared FFT: the STFT kernel, then the loss's
/// `store_bin`, reduction and entry point `loss_frames`.
pub fn loss_kernel_source() -> String {
    shader::compose(&[shader::STFT_WGSL, shader::STFT_LOSS_WGSL])
}

/// One resolution's pipelines, device buffers and dispatch sizes.
struct GpuResolution<'a> {
    forward: Arc<wgpu::ComputePipeline>,
    inverse: Arc<wgpu::ComputePipeline>,
    adjoint: Arc<wgpu::ComputePipeline>,
    stft_params: PooledBuffer<'a>,
    loss_params: PooledBuffer<'a>,
    target: PooledBuffer<'a>,
    spectra: PooledBuffer<'a>,
    partials: PooledBuffer<'a>,
    /// Window, gradient frames and ISTFT parameters: bound, never touched here.
    _bound: [PooledBuffer<'a>; 3],
    inverse_group: wgpu::BindGroup,
    adjoint_group: wgpu::BindGroup,
    frame_groups: (u32, u32),
    inverse_frame_groups: (u32, u32),
    sample_groups: (u32, u32),
}

/// The loss against one target on the GPU: the target's magnitude spectra
/// computed once and kept on the device, every buffer allocated once, so
/// each evaluation is one submission (three dispatches per resolution) and
/// one read-back of the gradient and the per-workgroup loss sums.
pub struct LossJob<'a> {
    ctx: &'a GpuContext,
    cfg: LossConfig,
    len: usize,
    input: PooledBuffer<'a>,
    gradient: PooledBuffer<'a>,
    resolutions: Vec<GpuResolution<'a>>,
    /// Held while an evaluation uses the job's buffers.
    busy: Mutex<()>,
}

impl<'a> LossJob<'a> {
    /// Prepares the loss against `target` (finite, long enough for every
    /// resolution's reflect padding).
    pub fn new(ctx: &'a GpuContext, target: &[f32], cfg: &LossConfig) -> Result<Self> {
        let len = check_pair(target.len(), target.len())?;
        check_finite("target", target)?;
        cfg.validate_for_length(len)?;
        let stft_cfgs = cfg.stft_configs();
        let magnitude_cfgs: Vec<StftConfig> = stft_cfgs
            .iter()
            .map(|c| c.with_format(SpectrumFormat::Magnitude))
            .collect();
        let targets = super::gpu::stft_multi(ctx, &[target], &magnitude_cfgs)?;
        let input = ctx.output_buffer("stft_loss.candidate", len as u64 * 4)?;
        let gradient = ctx.output_buffer("stft_loss.gradient", len as u64 * 4)?;
        let resolutions = stft_cfgs
            .iter()
            .zip(&targets)
            .enumerate()
            .map(|(i, (stft, target))| {
                let shape = Shape {
                    len,
                    per_bin: 1.0 / (cfg.resolutions.len() * target.data.len()) as f64,
                    accumulate: i > 0,
                };
                prepare_resolution(ctx, stft, cfg, &target.data, shape, &gradient)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(LossJob {
            ctx,
            cfg: cfg.clone(),
            len,
            input,
            gradient,
            resolutions,
            busy: Mutex::new(()),
        })
    }

    /// Samples of the target (and of every candidate).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Never true: an empty target is refused.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn config(&self) -> &LossConfig {
        &self.cfg
    }

    /// Loss and gradient dL/dy of candidate `y`.
    pub fn eval(&self, y: &[f32]) -> Result<(f64, Vec<f32>)> {
        check_pair(self.len, y.len())?;
        check_finite("candidate", y)?;
        let _busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        self.ctx
            .queue
            .write_buffer(&self.input, 0, bytemuck::cast_slice(y));
        self.run(&self.input)
    }

    /// [`LossJob::eval`] of a candidate already on the device: the first
    /// `len()` f32s of `y` (a STORAGE buffer; not checked for NaN).
    pub fn eval_buffer(&self, y: &wgpu::Buffer) -> Result<(f64, Vec<f32>)> {
        let _busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        self.run(y)
    }

    /// The buffer [`LossJob::record`] leaves dL/dy in (`len()` f32s).
    pub fn gradient_buffer(&self) -> &wgpu::Buffer {
        &self.gradient
    }

    /// Records the evaluation of candidate `y` (as in [`LossJob::eval_buffer`])
    /// into `encoder`, for chaining with other kernels without a host round
    /// trip: the gradient lands in [`LossJob::gradient_buffer`] once the
    /// encoder has run. Every recording shares the job's buffers.
    pub fn record(&self, encoder: &mut wgpu::CommandEncoder, y: &wgpu::Buffer) -> Result<()> {
        let bytes = self.len as u64 * 4;
        if y.size() < bytes || !y.usage().contains(wgpu::BufferUsages::STORAGE) {
            return Err(Error::invalid(
                "candidate buffer",
                format!(
                    "{} bytes, usage {:?}: the loss reads {bytes} bytes of a STORAGE buffer",
                    y.size(),
                    y.usage()
                ),
            ));
        }
        let forward_groups = self
            .resolutions
            .iter()
            .map(|r| self.forward_group(r, y))
            .collect::<Result<Vec<_>>>()?;
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("stft_loss"),
            timestamp_writes: None,
        });
        for (r, forward_group) in self.resolutions.iter().zip(&forward_groups) {
            for (pipeline, group, size) in [
                (&r.forward, forward_group, r.frame_groups),
                (&r.inverse, &r.inverse_group, r.inverse_frame_groups),
                (&r.adjoint, &r.adjoint_group, r.sample_groups),
            ] {
                pass.set_pipeline(pipeline);
                pass.set_bind_group(0, group, &[]);
                pass.dispatch_workgroups(size.0, size.1, 1);
            }
        }
        Ok(())
    }

    fn forward_group(&self, r: &GpuResolution, y: &wgpu::Buffer) -> Result<wgpu::BindGroup> {
        let candidate = wgpu::BindingResource::Buffer(wgpu::BufferBinding {
            buffer: y,
            offset: 0,
            size: wgpu::BufferSize::new(self.len as u64 * 4),
        });
        let entry = |binding, resource| wgpu::BindGroupEntry { binding, resource };
        let entries = [
            entry(0, candidate),
            entry(1, r.spectra.binding()),
            entry(2, r.stft_params.binding()),
            entry(3, r.target.binding()),
            entry(4, r.partials.binding()),
            entry(5, r.loss_params.binding()),
        ];
        self.ctx
            .bind_group_entries("stft_loss.forward", &r.forward, &entries)
    }

    fn run(&self, y: &wgpu::Buffer) -> Result<(f64, Vec<f32>)> {
        let mut encoder = self.ctx.encoder("stft_loss");
        self.record(&mut encoder, y)?;
        let mut staging = vec![self.ctx.copy_to_staging(&mut encoder, &self.gradient)?];
        for r in &self.resolutions {
            staging.push(self.ctx.copy_to_staging(&mut encoder, &r.partials)?);
        }
        self.ctx.submit_and_wait("stft_loss", encoder)?;
        let refs: Vec<&PooledBuffer> = staging.iter().collect();
        let mut parts = self.ctx.read_staging::<f32>(&refs)?.into_iter();
        let gradient = parts.next().expect("the gradient's staging buffer");
        let loss = parts.flatten().map(f64::from).sum();
        Ok((loss, gradient))
    }
}

/// What a resolution's kernels need to know about the job.
#[derive(Clone, Copy)]
struct Shape {
    len: usize,
    /// 1 / (resolutions x frames x bins): the means' weight.
    per_bin: f64,
    /// Add this resolution's gradient to the previous ones' (all but the first).
    accumulate: bool,
}

fn prepare_resolution<'a>(
    ctx: &'a GpuContext,
    cfg: &StftConfig,
    loss: &LossConfig,
    target: &[f32],
    shape: Shape,
    gradient: &PooledBuffer<'a>,
) -> Result<GpuResolution<'a>> {
    let plan = FftPlan::real_forward(cfg.n_fft, ctx.fft_device())?;
    let frames = cfg.frames(shape.len);
    let frame_bytes = (frames * cfg.n_fft * 4) as u64;
    if frame_bytes.max(target.len() as u64 * 8) > ctx.max_binding() {
        return Err(Error::OutOfMemory(format!(
            "the loss at n_fft {} needs {frame_bytes} bytes in one binding; the device allows {}",
            cfg.n_fft,
            ctx.max_binding()
        )));
    }
    let forward = fft::pipeline(
        ctx,
        "stft_loss",
        &loss_kernel_source(),
        &plan,
        LOSS_CONSTANTS,
        "loss_frames",
    )?;
    // The inverse runs on the shared FFT's plan, which may lay frames out
    // differently from a generated forward one.
    let inverse_plan = FftPlan::new(cfg.n_fft, ctx.fft_device())?;
    let istft = |entry| fft::pipeline(ctx, "istft", shader::ISTFT_WGSL, &inverse_plan, "", entry);
    let (inverse, adjoint) = (istft("inverse_frames")?, istft("overlap_add_adjoint")?);
    let groups = plan.groups_for(frames);
    let frame_groups = dispatch_2d(groups, ctx.max_groups_per_dimension());
    let inverse_frame_groups = dispatch_2d(
        inverse_plan.groups_for(frames),
        ctx.max_groups_per_dimension(),
    );
    let samples = (shape.len as u32).div_ceil(LINEAR_WORKGROUP);
    let stft_params = StftParams {
        signal_len: shape.len as u32,
        first_signal: 0,
        signals: 1,
        first_frame: 0,
        frames: frames as u32,
        groups_per_signal: groups,
        hop: cfg.hop as u32,
        groups_x: frame_groups.0,
        window: window_terms(cfg),
    };
    let loss_params = LossParams {
        log_weight: (loss.log_weight * shape.per_bin) as f32,
        linear_weight: (loss.linear_weight * shape.per_bin) as f32,
        floor: loss.floor as f32,
        _pad: 0.0,
    };
    let istft_params = IstftParams {
        frames_per_signal: frames as u32,
        total_frames: frames as u32,
        hop: cfg.hop as u32,
        out_len: shape.len as u32,
        signals: 1,
        groups_x: inverse_frame_groups.0,
        accumulate: u32::from(shape.accumulate),
        _pad: 0,
    };
    let spectra = ctx.output_buffer("stft_loss.spectra", target.len() as u64 * 8)?;
    let window = ctx.upload("stft_loss.window", &window_f32(cfg))?;
    let frame_values = ctx.output_buffer("stft_loss.frames", frame_bytes)?;
    let istft_params = ctx.uniform("stft_loss.istft_params", &istft_params)?;
    let inverse_group = ctx.bind_group(
        "stft_loss.inverse",
        &inverse,
        &[
            (1, &window),
            (2, &spectra),
            (3, &frame_values),
            (5, &istft_params),
        ],
    )?;
    let adjoint_group = ctx.bind_group(
        "stft_loss.adjoint",
        &adjoint,
        &[
            (1, &window),
            (3, &frame_values),
            (4, gradient),
            (5, &istft_params),
        ],
    )?;
    Ok(GpuResolution {
        forward,
        inverse,
        adjoint,
        stft_params: ctx.uniform("stft_loss.stft_params", &stft_params)?,
        loss_params: ctx.uniform("stft_loss.loss_params", &loss_params)?,
        target: ctx.upload("stft_loss.target", target)?,
        spectra,
        partials: ctx.output_buffer("stft_loss.partials", u64::from(groups) * 4)?,
        _bound: [window, frame_values, istft_params],
        inverse_group,
        adjoint_group,
        frame_groups,
        inverse_frame_groups,
        sample_groups: dispatch_2d(samples, ctx.max_groups_per_dimension()),
    })
}

#[cfg(test)]
mod layout_tests {
    use super::{LOSS_CONSTANTS, LossParams, loss_kernel_source};
    use crate::gpu::fft::{FftDevice, FftPlan};
    use crate::gpu::shader::{compose_fft_kernel, wgsl_struct_size};

    #[test]
    fn loss_parameters_match_the_shader() {
        let plan = FftPlan::new(512, FftDevice::software(32768)).unwrap();
        let source = compose_fft_kernel(&plan, LOSS_CONSTANTS, &loss_kernel_source());
        assert_eq!(
            wgsl_struct_size(&source, "LossParams").unwrap() as usize,
            size_of::<LossParams>()
        );
    }
}
