//! Criterion benchmarks of long-kernel convolution: the GPU partitioned
//! overlap-save end to end (uploads and read-back included) against the CPU
//! overlap-add on one thread, for kernels of 1k to 512k taps.
//! `wavesplat bench conv` prints the same with bandwidth fractions.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use wavesplat::bench::test_signals;
use wavesplat::conv::{ConvConfig, cpu, gpu};
use wavesplat::gpu::GpuContext;

const TAPS: [usize; 4] = [1024, 16_384, 131_072, 524_288];

fn signal(software: bool) -> Vec<f32> {
    test_signals(1, if software { 1 << 18 } else { 1 << 22 }, 3).remove(0)
}

fn kernel(taps: usize) -> Vec<f32> {
    test_signals(1, taps, 5)
        .remove(0)
        .iter()
        .map(|v| v / taps as f32)
        .collect()
}

fn bench_gpu(c: &mut Criterion, ctx: &GpuContext) {
    let x = signal(ctx.summary().is_software);
    let mut group = c.benchmark_group(format!("conv_gpu[{}]", ctx.summary().name));
    group.sample_size(10);
    for taps in TAPS {
        let h = kernel(taps);
        group.throughput(Throughput::Elements((x.len() + taps - 1) as u64));
        group.bench_function(BenchmarkId::from_parameter(taps), |b| {
            b.iter(|| {
                gpu::convolve(ctx, &[&x], &[&h], &ConvConfig::default()).expect("gpu convolve")
            })
        });
    }
    group.finish();
}

fn bench_cpu(c: &mut Criterion, software: bool) {
    let x = signal(software);
    let mut group = c.benchmark_group("conv_cpu_1thread");
    group.sample_size(10);
    for taps in TAPS {
        let h = kernel(taps);
        group.throughput(Throughput::Elements((x.len() + taps - 1) as u64));
        group.bench_function(BenchmarkId::from_parameter(taps), |b| {
            b.iter(|| cpu::convolve(&[&x], &[&h], 1).expect("cpu convolve"))
        });
    }
    group.finish();
}

fn benches(c: &mut Criterion) {
    match GpuContext::new() {
        Ok(ctx) => {
            bench_gpu(c, &ctx);
            bench_cpu(c, ctx.summary().is_software);
        }
        Err(e) => {
            eprintln!("!!! no GPU, GPU benchmarks NOT RUN: {e}");
            bench_cpu(c, true);
        }
    }
}

criterion_group!(conv, benches);
criterion_main!(conv);
