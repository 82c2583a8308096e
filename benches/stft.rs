//! Criterion benchmarks of the batched STFT: GPU execution (planning, upload
//! and read-back outside the timed loop; kernel time from timestamp queries
//! where the device has them), the copy kernel it is measured against, and the
//! CPU path on one thread. `wavesplat bench stft` prints the same comparison as
//! a table with bandwidth fractions.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::time::Duration;
use wavesplat::bench::{test_signals, time_stft_job};
use wavesplat::gpu::GpuContext;
use wavesplat::gpu::copy::measure_copy_bandwidth;
use wavesplat::stft::{StftConfig, cpu, gpu::StftJob};

const SIZES: [usize; 4] = [256, 1024, 2048, 8192];

fn batch(ctx: Option<&GpuContext>) -> Vec<Vec<f32>> {
    let software = ctx.is_none_or(|c| c.summary().is_software);
    let samples = if software { 1 << 19 } else { 1 << 24 };
    test_signals(8, samples / 8, 7)
}

fn bench_gpu(c: &mut Criterion, ctx: &GpuContext) {
    let signals = batch(Some(ctx));
    let refs: Vec<&[f32]> = signals.iter().map(Vec::as_slice).collect();
    let mut group = c.benchmark_group(format!("stft_gpu[{}]", ctx.summary().name));
    group.sample_size(10);
    for n_fft in SIZES {
        let job = StftJob::new(ctx, &refs, &[StftConfig::new(n_fft, n_fft / 4)]).expect("job");
        group.throughput(Throughput::Bytes(job.bytes_moved()));
        group.bench_function(BenchmarkId::from_parameter(n_fft), |b| {
            b.iter_custom(|iters| {
                let seconds = time_stft_job(ctx, &job, iters as usize, 1).expect("stft");
                Duration::from_secs_f64(seconds * iters as f64)
            })
        });
    }
    group.finish();
    let bytes = 64u64 << 20;
    let mut group = c.benchmark_group("copy_gpu");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(2 * bytes));
    group.bench_function("64MiB", |b| {
        b.iter_custom(|iters| {
            let copy = measure_copy_bandwidth(ctx, bytes, 1, iters as usize).expect("copy");
            Duration::from_secs_f64(copy.seconds_per_copy * iters as f64)
        })
    });
    group.finish();
}

fn bench_cpu(c: &mut Criterion) {
    let signals = batch(None);
    let refs: Vec<&[f32]> = signals.iter().map(Vec::as_slice).collect();
    let mut group = c.benchmark_group("stft_cpu_1thread");
    group.sample_size(10);
    for n_fft in SIZES {
        let cfg = StftConfig::new(n_fft, n_fft / 4);
        let frames = cfg.frames(refs[0].len()) * refs.len();
        group.throughput(Throughput::Elements(frames as u64));
        group.bench_function(BenchmarkId::from_parameter(n_fft), |b| {
            b.iter(|| cpu::stft(&refs, &cfg, 1).expect("cpu stft"))
        });
    }
    group.finish();
}

fn benches(c: &mut Criterion) {
    match GpuContext::new() {
        Ok(ctx) => bench_gpu(c, &ctx),
        Err(e) => eprintln!("!!! no GPU, GPU benchmarks NOT RUN: {e}"),
    }
    bench_cpu(c);
}

criterion_group!(stft, benches);
criterion_main!(stft);
