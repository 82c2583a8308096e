//! Throughput benchmarks shared by `wavesplat bench` and the criterion benches:
//! each GPU kernel against the device's measured copy bandwidth and against the
//! CPU path on one thread and on all threads.

use crate::error::Result;
use crate::gpu::GpuContext;
use crate::gpu::copy::{CopyBandwidth, measure_copy_bandwidth, time_passes};
use crate::stft::{StftConfig, cpu, gpu::StftJob};
use std::time::Instant;

/// How hard to push: `Quick` fits a software device in CI-like time, `Full`
/// fills a real GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effort {
    Quick,
    Full,
}

impl Effort {
    /// Full on hardware, quick on software rasterisers (lavapipe).
    pub fn for_device(ctx: &GpuContext) -> Self {
        if ctx.summary().is_software {
            Effort::Quick
        } else {
            Effort::Full
        }
    }

    fn stft_samples(self) -> usize {
        match self {
            Effort::Quick => 1 << 20,
            Effort::Full => 1 << 25,
        }
    }

    fn copy_bytes(self) -> u64 {
        match self {
            Effort::Quick => 64 << 20,
            Effort::Full => 512 << 20,
        }
    }
}

/// One STFT size's figures.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StftFigures {
    pub n_fft: usize,
    pub hop: usize,
    pub frames: usize,
    pub gpu_seconds: f64,
    pub gpu_frames_per_second: f64,
    pub gpu_bytes_per_second: f64,
    /// GPU bytes/s over the copy kernel's bytes/s.
    pub fraction_of_copy: f64,
    /// realfft (real-input transform), one thread: the fastest CPU path.
    pub cpu1_frames_per_second: f64,
    pub cpu_all_frames_per_second: f64,
    /// rustfft complex transform of every frame, one thread.
    pub rustfft_complex1_frames_per_second: f64,
    pub cpu_threads: usize,
}

/// The whole `bench stft` report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StftReport {
    pub adapter: crate::gpu::AdapterSummary,
    /// How GPU time was measured: "timestamp queries" or "wall clock".
    pub timing: String,
    pub copy: CopyBandwidth,
    pub signal_samples: usize,
    /// Largest n_fft whose transform is written out as straight-line code
    /// (0 on GPUs; see [`crate::gpu::GENERATED_FFT_ENV`]).
    pub generated_up_to_n_fft: usize,
    /// Subgroup lanes a generated frame may spread over (0: one invocation a
    /// frame, no subgroup operations).
    pub subgroup_lanes: u32,
    pub sizes: Vec<StftFigures>,
}

/// Best wall-clock seconds of `f` over `repeats` runs after one warm-up.
pub fn best_seconds(repeats: usize, mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    f()?;
    let mut best = f64::INFINITY;
    for _ in 0..repeats.max(1) {
        let start = Instant::now();
        f()?;
        best = best.min(start.elapsed().as_secs_f64());
    }
    Ok(best)
}

/// Deterministic noise-like test signals (an LCG; benchmarks need no statistics).
pub fn test_signals(count: usize, len: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..count)
        .map(|_| {
            (0..len)
                .map(|_| {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
                })
                .collect()
        })
        .collect()
}

/// GPU seconds per `job.record()`: `batches` records in one submission, best of
/// `repeats` (timestamp queries where the device has them).
pub fn time_stft_job(
    ctx: &GpuContext,
    job: &StftJob,
    batches: usize,
    repeats: usize,
) -> Result<f64> {
    time_passes(ctx, batches, repeats, |encoder, writes| {
        job.record_timed(encoder, writes);
        Ok(())
    })
}

/// Benchmarks the STFT at `n_ffts` (hop n_fft / 4, complex output).
pub fn bench_stft(ctx: &GpuContext, n_ffts: &[usize], effort: Effort) -> Result<StftReport> {
    let copy = measure_copy_bandwidth(ctx, effort.copy_bytes(), 5, 4)?;
    let samples = effort.stft_samples();
    let signals = test_signals(8, samples / 8, 1);
    let refs: Vec<&[f32]> = signals.iter().map(Vec::as_slice).collect();
    let threads = cpu::resolve_threads(0);
    let mut sizes = Vec::new();
    for &n_fft in n_ffts {
        let cfg = StftConfig::new(n_fft, n_fft / 4);
        let job = StftJob::new(ctx, &refs, &[cfg])?;
        let gpu_seconds = time_stft_job(ctx, &job, 4, 5)?;
        let frames = job.total_frames();
        let gpu_bytes_per_second = job.bytes_moved() as f64 / gpu_seconds;
        let cpu1 = best_seconds(5, || cpu::stft(&refs, &cfg, 1).map(drop))?;
        let cpu_all = best_seconds(5, || cpu::stft(&refs, &cfg, threads).map(drop))?;
        let complex1 = best_seconds(3, || cpu::stft_complex::<f32>(&refs, &cfg).map(drop))?;
        sizes.push(StftFigures {
            n_fft,
            hop: cfg.hop,
            frames,
            gpu_seconds,
            gpu_frames_per_second: frames as f64 / gpu_seconds,
            gpu_bytes_per_second,
            fraction_of_copy: gpu_bytes_per_second / copy.bytes_per_second,
            cpu1_frames_per_second: frames as f64 / cpu1,
            cpu_all_frames_per_second: frames as f64 / cpu_all,
            rustfft_complex1_frames_per_second: frames as f64 / complex1,
            cpu_threads: threads,
        });
    }
    Ok(StftReport {
        adapter: ctx.summary().clone(),
        timing: timing_method(ctx).to_string(),
        copy,
        signal_samples: samples,
        generated_up_to_n_fft: largest_generated_n_fft(ctx.fft_device()),
        subgroup_lanes: ctx.fft_device().subgroup_size,
        sizes,
    })
}

/// The largest n_fft whose real forward transform `device` writes out as
/// straight-line code (0 for none).
fn largest_generated_n_fft(device: crate::gpu::fft::FftDevice) -> usize {
    use crate::gpu::fft::{FftPlan, MAX_N_FFT, MIN_N_FFT};
    std::iter::successors(Some(MIN_N_FFT), |n| Some(n * 2))
        .take_while(|&n| n <= MAX_N_FFT)
        .filter(|&n| FftPlan::real_forward(n, device).is_ok_and(|p| p.generated))
        .max()
        .unwrap_or(0)
}

/// How [`time_passes`] measures on this device.
pub fn timing_method(ctx: &GpuContext) -> &'static str {
    if ctx.has_timestamps() {
        "timestamp queries"
    } else {
        "wall clock"
    }
}

/// The first line of every report: which device ran.
fn write_device(
    f: &mut std::fmt::Formatter<'_>,
    adapter: &crate::gpu::AdapterSummary,
) -> std::fmt::Result {
    writeln!(
        f,
        "device: {} ({}, {})",
        adapter.name, adapter.backend, adapter.device_type
    )
}

impl std::fmt::Display for StftReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write_device(f, &self.adapter)?;
        writeln!(
            f,
            "copy bandwidth: {:.2} GB/s (read + write, {} MiB buffer); GPU times from {}",
            self.copy.bytes_per_second / 1e9,
            self.copy.bytes_copied >> 20,
            self.timing
        )?;
        writeln!(
            f,
            "batch: 8 signals, {} samples in all, hop n_fft/4, complex output",
            self.signal_samples
        )?;
        if self.generated_up_to_n_fft > 0 {
            let spread = if self.subgroup_lanes > 0 {
                format!(
                    ", frames spread over up to {} subgroup lanes",
                    self.subgroup_lanes
                )
            } else {
                String::new()
            };
            writeln!(
                f,
                "straight-line FFT up to n_fft {}{spread} ({} to change)",
                self.generated_up_to_n_fft,
                crate::gpu::GENERATED_FFT_ENV
            )?;
        }
        let threads = self.sizes.first().map_or(0, |s| s.cpu_threads);
        writeln!(
            f,
            "cpu1: realfft, 1 thread; cpuN: realfft, {threads} threads; rustfft1: complex rustfft per frame, 1 thread"
        )?;
        writeln!(
            f,
            "{:>6} {:>8} {:>13} {:>9} {:>8} {:>13} {:>13} {:>13} {:>9} {:>10}",
            "n_fft",
            "frames",
            "gpu frames/s",
            "gpu GB/s",
            "of copy",
            "cpu1 frames/s",
            "cpuN frames/s",
            "rustfft1 fr/s",
            "gpu/cpu1",
            "gpu/rustfft1"
        )?;
        for s in &self.sizes {
            writeln!(
                f,
                "{:>6} {:>8} {:>13.0} {:>9.2} {:>7.1}% {:>13.0} {:>13.0} {:>13.0} {:>8.2}x {:>9.2}x",
                s.n_fft,
                s.frames,
                s.gpu_frames_per_second,
                s.gpu_bytes_per_second / 1e9,
                100.0 * s.fraction_of_copy,
                s.cpu1_frames_per_second,
                s.cpu_all_frames_per_second,
                s.rustfft_complex1_frames_per_second,
                s.gpu_frames_per_second / s.cpu1_frames_per_second,
                s.gpu_frames_per_second / s.rustfft_complex1_frames_per_second
            )?;
        }
        Ok(())
    }
}

/// One kernel length's convolution figures.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ConvFigures {
    pub taps: usize,
    pub partition: usize,
    pub partitions: usize,
    pub output_samples: usize,
    /// GPU end to end (uploads, kernels, read-back), output samples per second.
    pub gpu_samples_per_second: f64,
    /// Device-memory bytes the kernels must move at least (see `conv_bytes`), per second.
    pub gpu_bytes_per_second: f64,
    pub fraction_of_copy: f64,
    pub cpu1_samples_per_second: f64,
    pub cpu_all_samples_per_second: f64,
    pub cpu_threads: usize,
}

/// The whole `bench conv` report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ConvReport {
    pub adapter: crate::gpu::AdapterSummary,
    pub copy: CopyBandwidth,
    pub signal_samples: usize,
    pub sizes: Vec<ConvFigures>,
}

/// Least device traffic of a partitioned overlap-save run: per output block
/// the input block read and its spectrum written, P spectrum pairs read by
/// the accumulation and its sum written, the sum read back and B samples written.
fn conv_bytes(blocks: usize, block: usize, partitions: usize) -> u64 {
    let bins = (block + 1) as u64 * 8;
    let per_block =
        2 * block as u64 * 4 + bins + partitions as u64 * 2 * bins + bins + bins + block as u64 * 4;
    blocks as u64 * per_block
}

/// Benchmarks convolution of one signal with kernels of `taps` taps.
pub fn bench_conv(ctx: &GpuContext, taps: &[usize], effort: Effort) -> Result<ConvReport> {
    let copy = measure_copy_bandwidth(ctx, effort.copy_bytes(), 5, 4)?;
    let samples = effort.stft_samples() / 4;
    let x = test_signals(1, samples, 3).remove(0);
    let threads = cpu::resolve_threads(0);
    let mut sizes = Vec::new();
    for &n in taps {
        let h: Vec<f32> = test_signals(1, n, 5)
            .remove(0)
            .iter()
            .map(|v| v / n as f32)
            .collect();
        let cfg = crate::conv::ConvConfig::default();
        let block = cfg.block_for(n)?;
        let out = samples + n - 1;
        let gpu = best_seconds(2, || {
            crate::conv::gpu::convolve(ctx, &[&x], &[&h], &cfg).map(drop)
        })?;
        let cpu1 = best_seconds(1, || crate::conv::cpu::convolve(&[&x], &[&h], 1).map(drop))?;
        let cpu_all = best_seconds(1, || {
            crate::conv::cpu::convolve(&[&x], &[&h], threads).map(drop)
        })?;
        let bytes = conv_bytes(out.div_ceil(block), block, n.div_ceil(block));
        sizes.push(ConvFigures {
            taps: n,
            partition: block,
            partitions: n.div_ceil(block),
            output_samples: out,
            gpu_samples_per_second: out as f64 / gpu,
            gpu_bytes_per_second: bytes as f64 / gpu,
            fraction_of_copy: bytes as f64 / gpu / copy.bytes_per_second,
            cpu1_samples_per_second: out as f64 / cpu1,
            cpu_all_samples_per_second: out as f64 / cpu_all,
            cpu_threads: threads,
        });
    }
    Ok(ConvReport {
        adapter: ctx.summary().clone(),
        copy,
        signal_samples: samples,
        sizes,
    })
}

impl std::fmt::Display for ConvReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write_device(f, &self.adapter)?;
        writeln!(
            f,
            "copy bandwidth: {:.2} GB/s (read + write)",
            self.copy.bytes_per_second / 1e9
        )?;
        writeln!(
            f,
            "signal: {} samples; GPU end to end (upload, kernels, read-back); CPU: f64 overlap-add (rustfft)",
            self.signal_samples
        )?;
        writeln!(
            f,
            "{:>7} {:>6} {:>5} {:>14} {:>9} {:>8} {:>14} {:>14} {:>9}",
            "taps",
            "block",
            "parts",
            "gpu samples/s",
            "gpu GB/s",
            "of copy",
            "cpu1 samples/s",
            "cpuN samples/s",
            "gpu/cpu1"
        )?;
        for s in &self.sizes {
            writeln!(
                f,
                "{:>7} {:>6} {:>5} {:>14.0} {:>9.2} {:>7.1}% {:>14.0} {:>14.0} {:>8.2}x",
                s.taps,
                s.partition,
                s.partitions,
                s.gpu_samples_per_second,
                s.gpu_bytes_per_second / 1e9,
                100.0 * s.fraction_of_copy,
                s.cpu1_samples_per_second,
                s.cpu_all_samples_per_second,
                s.gpu_samples_per_second / s.cpu1_samples_per_second
            )?;
        }
        Ok(())
    }
}

/// One length's four-step FFT figures.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FftFigures {
    pub n: usize,
    pub transforms: usize,
    pub gpu_transforms_per_second: f64,
    pub gpu_bytes_per_second: f64,
    pub fraction_of_copy: f64,
    /// rustfft (complex, f32) on one thread.
    pub cpu1_transforms_per_second: f64,
}

/// The whole `bench fft` report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FftReport {
    pub adapter: crate::gpu::AdapterSummary,
    pub timing: String,
    pub copy: CopyBandwidth,
    pub values: usize,
    pub sizes: Vec<FftFigures>,
}

/// Benchmarks batched complex FFTs of each length in `lengths` (four-step
/// GPU kernel vs rustfft on one thread), over the same number of values.
pub fn bench_fft(ctx: &GpuContext, lengths: &[usize], effort: Effort) -> Result<FftReport> {
    let copy = measure_copy_bandwidth(ctx, effort.copy_bytes(), 5, 4)?;
    let values = effort.stft_samples() / 2;
    let longest = lengths.iter().copied().max().unwrap_or(0);
    let noise = test_signals(2, values.max(longest), 9);
    let data: Vec<[f32; 2]> = noise[0]
        .iter()
        .zip(&noise[1])
        .map(|(&a, &b)| [a, b])
        .collect();
    let mut sizes = Vec::new();
    for &n in lengths {
        let transforms = (values / n).max(1);
        let batch = &data[..(transforms * n).min(data.len())];
        let job = crate::gpu::large_fft::LargeFftJob::new(ctx, batch, n, false)?;
        let gpu = time_passes(ctx, 4, 5, |encoder, writes| {
            job.record_timed(encoder, writes);
            Ok(())
        })?;
        let fft = rustfft::FftPlanner::<f32>::new().plan_fft_forward(n);
        let mut buffer: Vec<rustfft::num_complex::Complex<f32>> = batch
            .iter()
            .map(|c| rustfft::num_complex::Complex::new(c[0], c[1]))
            .collect();
        let cpu1 = best_seconds(3, || {
            fft.process(&mut buffer);
            Ok(())
        })?;
        sizes.push(FftFigures {
            n,
            transforms,
            gpu_transforms_per_second: transforms as f64 / gpu,
            gpu_bytes_per_second: job.bytes_moved() as f64 / gpu,
            fraction_of_copy: job.bytes_moved() as f64 / gpu / copy.bytes_per_second,
            cpu1_transforms_per_second: transforms as f64 / cpu1,
        });
    }
    Ok(FftReport {
        adapter: ctx.summary().clone(),
        timing: timing_method(ctx).to_string(),
        copy,
        values,
        sizes,
    })
}

impl std::fmt::Display for FftReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write_device(f, &self.adapter)?;
        writeln!(
            f,
            "copy bandwidth: {:.2} GB/s (read + write); GPU times from {}; {} complex values a batch",
            self.copy.bytes_per_second / 1e9,
            self.timing,
            self.values
        )?;
        writeln!(
            f,
            "{:>9} {:>6} {:>16} {:>9} {:>8} {:>18} {:>9}",
            "n",
            "batch",
            "gpu transforms/s",
            "gpu GB/s",
            "of copy",
            "rustfft1 transf./s",
            "gpu/cpu1"
        )?;
        for s in &self.sizes {
            writeln!(
                f,
                "{:>9} {:>6} {:>16.1} {:>9.2} {:>7.1}% {:>18.1} {:>8.2}x",
                s.n,
                s.transforms,
                s.gpu_transforms_per_second,
                s.gpu_bytes_per_second / 1e9,
                100.0 * s.fraction_of_copy,
                s.cpu1_transforms_per_second,
                s.gpu_transforms_per_second / s.cpu1_transforms_per_second
            )?;
        }
        Ok(())
    }
}

/// One atom count's rendering figures.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RenderFigures {
    pub atoms: usize,
    /// Samples of atoms inside the output, summed over atoms: the work.
    pub atom_samples: u64,
    /// Host preparation (envelope tables, energies), all threads.
    pub prepare_seconds: f64,
    pub gpu_seconds: f64,
    pub gpu_atoms_per_second: f64,
    pub gpu_samples_per_second: f64,
    /// Output written plus tables read, per second, over the copy kernel's rate.
    pub gpu_bytes_per_second: f64,
    pub fraction_of_copy: f64,
    /// The f64 reference renderer on all threads (None: not run at this size).
    pub cpu_seconds: Option<f64>,
    pub cpu_threads: usize,
}

/// The whole `bench render` report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RenderReport {
    pub adapter: crate::gpu::AdapterSummary,
    pub copy: CopyBandwidth,
    pub rate: u32,
    pub seconds: f64,
    pub sizes: Vec<RenderFigures>,
}

/// Benchmarks rendering `counts` random atoms (`atoms::random_atoms`) into
/// `seconds` of output at 22050 Hz: GPU gather vs the CPU reference on all
/// threads. The CPU runs only up to `cpu_max_atoms` atoms (it is slow).
pub fn bench_render(
    ctx: &GpuContext,
    counts: &[usize],
    seconds: f64,
    cpu_max_atoms: usize,
    effort: Effort,
) -> Result<RenderReport> {
    use crate::atoms::{cpu as atoms_cpu, gpu as atoms_gpu, prepare, random_atoms};
    let rate = 22_050u32;
    let copy = measure_copy_bandwidth(ctx, effort.copy_bytes(), 5, 4)?;
    let samples = (seconds * rate as f64) as usize;
    let repeats = if effort == Effort::Quick { 1 } else { 3 };
    let threads = cpu::resolve_threads(0);
    let mut sizes = Vec::new();
    for &count in counts {
        let atoms = random_atoms(count, seconds, 1234 + count as u64);
        let start = Instant::now();
        let prepared = prepare(&atoms, rate)?;
        let prepare_seconds = start.elapsed().as_secs_f64();
        let atom_samples: u64 = prepared
            .atoms
            .iter()
            .map(|a| (a.len as u64).min(samples.saturating_sub(a.start as usize) as u64))
            .sum();
        let job = atoms_gpu::RenderJob::new(ctx, &prepared, samples)?;
        let gpu_seconds = best_seconds(repeats, || {
            let mut encoder = ctx.encoder("bench render");
            job.record(&mut encoder);
            ctx.submit_and_wait("bench render", encoder)
        })?;
        let bytes = job.bytes_moved() as f64;
        let cpu_seconds = if count <= cpu_max_atoms {
            let start = Instant::now();
            atoms_cpu::render_prepared(&prepared, samples, 0);
            Some(start.elapsed().as_secs_f64())
        } else {
            None
        };
        sizes.push(RenderFigures {
            atoms: count,
            atom_samples,
            prepare_seconds,
            gpu_seconds,
            gpu_atoms_per_second: count as f64 / gpu_seconds,
            gpu_samples_per_second: samples as f64 / gpu_seconds,
            gpu_bytes_per_second: bytes / gpu_seconds,
            fraction_of_copy: bytes / gpu_seconds / copy.bytes_per_second,
            cpu_seconds,
            cpu_threads: threads,
        });
    }
    Ok(RenderReport {
        adapter: ctx.summary().clone(),
        copy,
        rate,
        seconds,
        sizes,
    })
}

impl std::fmt::Display for RenderReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write_device(f, &self.adapter)?;
        writeln!(
            f,
            "copy bandwidth: {:.2} GB/s; output {} s at {} Hz; GPU times from the wall clock",
            self.copy.bytes_per_second / 1e9,
            self.seconds,
            self.rate
        )?;
        let threads = self.sizes.first().map_or(0, |s| s.cpu_threads);
        writeln!(
            f,
            "{:>7} {:>13} {:>9} {:>9} {:>13} {:>15} {:>8} {:>9} {:>13} {:>8}",
            "atoms",
            "atom samples",
            "prep s",
            "gpu s",
            "gpu atoms/s",
            "gpu out smp/s",
            "of copy",
            "cpu s",
            format!("cpu{threads} atoms/s"),
            "gpu/cpu"
        )?;
        for s in &self.sizes {
            let (cpu_s, cpu_rate, ratio) = match s.cpu_seconds {
                Some(c) => (
                    format!("{c:.2}"),
                    format!("{:.0}", s.atoms as f64 / c),
                    format!("{:.2}x", c / s.gpu_seconds),
                ),
                None => ("-".into(), "-".into(), "-".into()),
            };
            writeln!(
                f,
                "{:>7} {:>13} {:>9.3} {:>9.3} {:>13.0} {:>15.0} {:>7.2}% {:>9} {:>13} {:>8}",
                s.atoms,
                s.atom_samples,
                s.prepare_seconds,
                s.gpu_seconds,
                s.gpu_atoms_per_second,
                s.gpu_samples_per_second,
                100.0 * s.fraction_of_copy,
                cpu_s,
                cpu_rate,
                ratio
            )?;
        }
        Ok(())
    }
}
