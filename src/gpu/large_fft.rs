//! Batched complex FFTs longer than one workgroup holds (64 to 2^24 points),
//! by the four-step method on the shared workgroup FFT (shaders/fft_large.wgsl):
//! N = N1 x N2, column transforms with twiddles, then row transforms.

use super::fft::{self, FftPlan, MAX_N_FFT};
use super::{GpuContext, PooledBuffer, dispatch_2d, shader};
use crate::error::{Error, Result, check_finite};

/// Smallest and largest transform lengths.
pub const MIN_LEN: usize = 64;
pub const MAX_LEN: usize = (MAX_N_FFT / 2) * (MAX_N_FFT / 2);

/// Keep in sync with `LargeFftParams` in shaders/fft_large.wgsl (sizes checked by a test).
#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct LargeFftParams {
    log2_n: u32,
    log2_other: u32,
    frames: u32,
    inverse: u32,
    groups_x: u32,
    _pad: [u32; 3],
}

/// The split N = N1 x N2 (N1 >= N2, both powers of two of at least 8).
pub fn split(n: usize) -> Result<(usize, usize)> {
    if !n.is_power_of_two() || !(MIN_LEN..=MAX_LEN).contains(&n) {
        return Err(Error::invalid(
            "FFT length",
            format!("{n}: use a power of two from {MIN_LEN} to {MAX_LEN}"),
        ));
    }
    let log2 = n.trailing_zeros();
    let n1 = 1usize << log2.div_ceil(2);
    Ok((n1, n / n1))
}

/// The source of one step: the constant naming it, then the kernel.
fn step_constants(columns: bool) -> &'static str {
    if columns {
        "const STEP_COLUMNS: bool = true;\n"
    } else {
        "const STEP_COLUMNS: bool = false;\n"
    }
}

/// Forward (or, with `inverse`, inverse and scaled by 1/N) FFTs of the
/// `data.len() / n` transforms of length `n` in `data`, as numpy's fft/ifft.
pub fn fft(ctx: &GpuContext, data: &[[f32; 2]], n: usize, inverse: bool) -> Result<Vec<[f32; 2]>> {
    LargeFftJob::new(ctx, data, n, inverse)?.run()
}

/// Transforms uploaded and ready: [`LargeFftJob::record_timed`] can be called
/// repeatedly (benchmarks), [`LargeFftJob::run`] records once and reads back.
pub struct LargeFftJob<'a> {
    ctx: &'a GpuContext,
    steps: LargeFftSteps<'a>,
    _input: PooledBuffer<'a>,
    output: PooledBuffer<'a>,
    values: usize,
}

/// One prepared dispatch.
struct Step {
    pipeline: std::sync::Arc<wgpu::ComputePipeline>,
    bind_group: wgpu::BindGroup,
    groups: (u32, u32),
}

/// Both steps of batched transforms between two buffers the caller owns
/// (kernels that produce their FFT input on the device and consume its
/// output there, as the GP sampler does). Keep the buffers alive until the
/// recorded work has been submitted and waited for.
pub struct LargeFftSteps<'a> {
    steps: [Step; 2],
    _middle: PooledBuffer<'a>,
    _params: [PooledBuffer<'a>; 2],
}

impl<'a> LargeFftSteps<'a> {
    /// Prepares `transforms` transforms of length `n` from `input` (complex
    /// f32 pairs) to `output`, each holding at least `transforms * n` values.
    pub fn new(
        ctx: &'a GpuContext,
        input: &PooledBuffer<'_>,
        output: &PooledBuffer<'_>,
        n: usize,
        transforms: usize,
        inverse: bool,
    ) -> Result<Self> {
        let (n1, n2) = split(n)?;
        let bytes = (transforms * n * 8) as u64;
        if transforms == 0 || input.bytes < bytes || output.bytes < bytes {
            return Err(Error::invalid(
                "FFT buffers",
                format!("{transforms} transforms of {n} need {bytes} bytes in and out"),
            ));
        }
        if bytes > ctx.max_binding() {
            return Err(Error::OutOfMemory(format!(
                "{bytes} bytes of transforms exceed the device's largest binding ({})",
                ctx.max_binding()
            )));
        }
        let middle = ctx.output_buffer("fft_large.middle", bytes)?;
        // Columns: transforms of length N1, one per column (N2 of them per
        // transform); rows: length N2, one per row (N1 per transform).
        let (columns, columns_params) =
            prepare_step(ctx, (input, &middle), n, n1, n2, transforms, inverse, true)?;
        let (rows, rows_params) = prepare_step(
            ctx,
            (&middle, output),
            n,
            n2,
            n1,
            transforms,
            inverse,
            false,
        )?;
        Ok(LargeFftSteps {
            steps: [columns, rows],
            _middle: middle,
            _params: [columns_params, rows_params],
        })
    }

    /// Records both steps into `pass`.
    pub fn record(&self, pass: &mut wgpu::ComputePass<'_>) {
        for step in &self.steps {
            pass.set_pipeline(&step.pipeline);
            pass.set_bind_group(0, &step.bind_group, &[]);
            pass.dispatch_workgroups(step.groups.0, step.groups.1, 1);
        }
    }
}

impl<'a> LargeFftJob<'a> {
    /// Uploads `data` (whole transforms of length `n`) and prepares both steps.
    pub fn new(ctx: &'a GpuContext, data: &[[f32; 2]], n: usize, inverse: bool) -> Result<Self> {
        split(n)?;
        if data.is_empty() || !data.len().is_multiple_of(n) {
            return Err(Error::invalid(
                "FFT input",
                format!(
                    "{} values are not a whole number of transforms of {n}",
                    data.len()
                ),
            ));
        }
        let flat: Vec<f32> = data.iter().flatten().copied().collect();
        check_finite("FFT input", &flat)?;
        let bytes = (data.len() * 8) as u64;
        if bytes > ctx.max_binding() {
            return Err(Error::OutOfMemory(format!(
                "{bytes} bytes of transforms exceed the device's largest binding ({})",
                ctx.max_binding()
            )));
        }
        let input = ctx.upload("fft_large.input", data)?;
        let output = ctx.output_buffer("fft_large.output", bytes)?;
        let steps = LargeFftSteps::new(ctx, &input, &output, n, data.len() / n, inverse)?;
        Ok(LargeFftJob {
            ctx,
            steps,
            _input: input,
            output,
            values: data.len(),
        })
    }

    /// Records both steps into one compute pass (optionally timed).
    pub fn record_timed(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        timestamp_writes: Option<wgpu::ComputePassTimestampWrites<'_>>,
    ) {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("fft_large"),
            timestamp_writes,
        });
        self.steps.record(&mut pass);
    }

    /// Device-memory bytes one record must move at least: each step reads
    /// and writes every value once.
    pub fn bytes_moved(&self) -> u64 {
        2 * 2 * 8 * self.values as u64
    }

    /// Runs the transforms and reads them back.
    pub fn run(self) -> Result<Vec<[f32; 2]>> {
        let mut encoder = self.ctx.encoder("fft_large");
        self.record_timed(&mut encoder, None);
        let staging = self.ctx.copy_to_staging(&mut encoder, &self.output)?;
        self.ctx.submit_and_wait("fft_large", encoder)?;
        let flat = self.ctx.read_staging::<f32>(&[&staging])?.remove(0);
        Ok(flat.chunks(2).map(|c| [c[0], c[1]]).collect())
    }
}

/// Prepares one step: `transforms` x `lines` frames of length `len`, reading
/// `buffers.0` and writing `buffers.1`; returns it with its parameter buffer.
#[allow(clippy::too_many_arguments)] // one dispatch's complete description
fn prepare_step<'a>(
    ctx: &'a GpuContext,
    buffers: (&PooledBuffer<'_>, &PooledBuffer<'_>),
    n: usize,
    len: usize,
    lines: usize,
    transforms: usize,
    inverse: bool,
    columns: bool,
) -> Result<(Step, PooledBuffer<'a>)> {
    let plan = FftPlan::new(2 * len, ctx.fft_device())?;
    let kernel = if columns {
        "fft_large.columns"
    } else {
        "fft_large.rows"
    };
    let pipeline = fft::pipeline(
        ctx,
        kernel,
        shader::FFT_LARGE_WGSL,
        &plan,
        step_constants(columns),
        "main",
    )?;
    let frames = transforms * lines;
    let groups = dispatch_2d(plan.groups_for(frames), ctx.max_groups_per_dimension());
    let params = ctx.uniform(
        "fft_large.params",
        &LargeFftParams {
            log2_n: n.trailing_zeros(),
            log2_other: lines.trailing_zeros(),
            frames: frames as u32,
            inverse: inverse as u32,
            groups_x: groups.0,
            ..Default::default()
        },
    )?;
    let bind_group = ctx.bind_group(
        kernel,
        &pipeline,
        &[(0, buffers.0), (1, buffers.1), (2, &params)],
    )?;
    Ok((
        Step {
            pipeline,
            bind_group,
            groups,
        },
        params,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_are_balanced_powers_of_two() {
        assert_eq!(split(64).unwrap(), (8, 8));
        assert_eq!(split(128).unwrap(), (16, 8));
        assert_eq!(split(1 << 18).unwrap(), (512, 512));
        assert_eq!(split(1 << 24).unwrap(), (4096, 4096));
        for bad in [0, 32, 100, 1 << 25] {
            assert!(split(bad).unwrap_err().to_string().contains("FFT length"));
        }
    }

    #[test]
    fn params_match_the_shader_layout() {
        let plan = FftPlan::new(1024, fft::FftDevice::gpu(16384)).unwrap();
        let source =
            shader::compose_fft_kernel(&plan, step_constants(true), shader::FFT_LARGE_WGSL);
        let size = shader::wgsl_struct_size(&source, "LargeFftParams").unwrap();
        assert_eq!(size as usize, size_of::<LargeFftParams>());
    }
}
