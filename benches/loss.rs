//! Criterion benchmark of the multi-resolution STFT loss: one loss + gradient
//! evaluation of 10 s at 22050 Hz over the encoder's five default
//! resolutions, on the GPU (`LossJob::eval`: upload, 15 dispatches,
//! read-back of the gradient and the loss sums) and with the f64 CPU
//! reference (one thread; it transforms the target again on every call).

use criterion::{Criterion, criterion_group, criterion_main};
use wavesplat::bench::test_signals;
use wavesplat::gpu::GpuContext;
use wavesplat::stft::loss::{LossConfig, LossJob, loss_reference};

const SAMPLES: usize = 10 * 22050;

fn pair() -> (Vec<f32>, Vec<f32>) {
    let mut signals = test_signals(2, SAMPLES, 3);
    let candidate = signals.pop().expect("two signals");
    (signals.pop().expect("two signals"), candidate)
}

fn benches(c: &mut Criterion) {
    let (target, candidate) = pair();
    let cfg = LossConfig::default();
    let mut group = c.benchmark_group("stft_loss_10s_5_resolutions");
    group.sample_size(10);
    match GpuContext::new() {
        Ok(ctx) => {
            let job = LossJob::new(&ctx, &target, &cfg).expect("loss job");
            group.bench_function(format!("gpu[{}]", ctx.summary().name), |b| {
                b.iter(|| job.eval(&candidate).expect("loss"))
            });
        }
        Err(e) => eprintln!("!!! no GPU, GPU benchmark NOT RUN: {e}"),
    }
    group.bench_function("cpu_f64_reference", |b| {
        b.iter(|| loss_reference(&target, &candidate, &cfg).expect("loss"))
    });
    group.finish();
}

criterion_group!(loss, benches);
criterion_main!(loss);
