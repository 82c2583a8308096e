//! GPU STFT / ISTFT against the f64 CPU reference, on fresh random inputs of
//! every supported size, with output buffers poisoned (NaN) before each run.

mod common;

use common::{Rng, gpu, gpu_with, relative_error, widen};
use wavesplat::gpu::GpuOptions;
use wavesplat::gpu::copy::copy_on_device;
use wavesplat::gpu::fft::FftPlan;
use wavesplat::stft::{Spectrogram, SpectrumFormat, StftConfig, Window, cpu, gpu as stft_gpu};

fn reference_flat(signals: &[&[f32]], cfg: &StftConfig) -> Vec<f64> {
    cpu::stft_reference(signals, cfg)
        .unwrap()
        .iter()
        .flat_map(|z| [z.re, z.im])
        .collect()
}

fn random_batch(rng: &mut Rng, count: usize, len: usize) -> Vec<Vec<f32>> {
    (0..count).map(|_| rng.signal(len)).collect()
}

fn as_refs(v: &[Vec<f32>]) -> Vec<&[f32]> {
    v.iter().map(Vec::as_slice).collect()
}

/// Compares one GPU run against the reference and returns the relative error.
fn gpu_error(ctx: &wavesplat::gpu::GpuContext, signals: &[&[f32]], cfg: &StftConfig) -> f64 {
    let spec = stft_gpu::stft(ctx, signals, cfg).unwrap();
    let len = signals[0].len();
    assert_eq!(
        (spec.signals, spec.frames, spec.bins),
        (signals.len(), cfg.frames(len), cfg.bins())
    );
    relative_error(&widen(&spec.data), &reference_flat(signals, cfg))
}

#[test]
fn every_supported_size_matches_the_f64_reference() {
    let Some(ctx) = gpu("every_supported_size") else {
        return;
    };
    let mut rng = Rng::fresh("every_supported_size");
    let mut n_fft = 16;
    while n_fft <= 8192 {
        // A hop that is not a divisor, a length that is not a multiple of it.
        let hop = rng.range(n_fft / 5 + 1, n_fft / 2);
        let len = rng.range(n_fft / 2 + 1, 3 * n_fft);
        let count = rng.range(1, 3);
        let batch = random_batch(&mut rng, count, len);
        let err = gpu_error(ctx, &as_refs(&batch), &StftConfig::new(n_fft, hop));
        eprintln!("n_fft {n_fft}: relative error {err:.2e}");
        assert!(
            err < 1e-5,
            "n_fft {n_fft} hop {hop} len {len} batch {count}: relative error {err:e}"
        );
        n_fft *= 2;
    }
}

/// A context on this adapter planning FFTs as for a software rasteriser or
/// a hardware GPU, with subgroups as `subgroups` says.
fn planned_as(
    test: &str,
    software: bool,
    subgroups: Option<bool>,
) -> Option<wavesplat::gpu::GpuContext> {
    let options = GpuOptions {
        plan_as_software: Some(software),
        subgroups,
        ..GpuOptions::from_env()
    };
    gpu_with(test, options)
}

#[test]
fn both_fft_plans_match_the_reference_on_this_device() {
    // The hardware plan (32 values per invocation) and the software one (64)
    // run whatever the adapter is, so CI on lavapipe checks both.
    let mut rng = Rng::fresh("both_fft_plans");
    for software in [false, true] {
        let Some(ctx) = planned_as("both_fft_plans", software, None) else {
            return;
        };
        let mut n_fft = 16;
        while n_fft <= 8192 {
            let hop = rng.range(n_fft / 4, n_fft / 2);
            let len = rng.range(n_fft, 2 * n_fft);
            let batch = random_batch(&mut rng, 2, len);
            let err = gpu_error(&ctx, &as_refs(&batch), &StftConfig::new(n_fft, hop));
            assert!(
                err < 1e-5,
                "software plan {software}, n_fft {n_fft}: {err:e}"
            );
            let spec =
                stft_gpu::stft(&ctx, &as_refs(&batch), &StftConfig::new(n_fft, hop)).unwrap();
            let back = stft_gpu::istft(
                &ctx,
                &spec,
                &StftConfig::new(n_fft, hop),
                Some(batch[0].len()),
            )
            .unwrap();
            let err = relative_error(&widen(&back[1]), &widen(&batch[1]));
            assert!(
                err < 1e-5,
                "inverse, software plan {software}, n_fft {n_fft}: {err:e}"
            );
            n_fft *= 2;
        }
    }
}

#[test]
fn generated_transforms_match_in_both_layouts() {
    // On a CPU rasteriser with subgroups (lavapipe) the default context
    // spreads generated frames over subgroup lanes; this one keeps each frame
    // in one invocation, the layout for devices without subgroups. Each
    // context reports which layout its plans use.
    let mut rng = Rng::fresh("generated_layouts");
    for subgroups in [true, false] {
        let Some(ctx) = planned_as("generated_layouts", true, Some(subgroups)) else {
            return;
        };
        let device = ctx.fft_device();
        eprintln!(
            "subgroups {subgroups}: subgroup width {}",
            device.subgroup_size
        );
        if !subgroups {
            assert_eq!(device.subgroup_size, 0);
        }
        for n_fft in [128, 256, 512, 2048] {
            let plan = FftPlan::real_forward(n_fft, device).unwrap();
            let hop = rng.range(n_fft / 4, n_fft / 2);
            let len = rng.range(n_fft, 3 * n_fft);
            let batch = random_batch(&mut rng, 3, len);
            let err = gpu_error(&ctx, &as_refs(&batch), &StftConfig::new(n_fft, hop));
            eprintln!(
                "n_fft {n_fft}: generated {}, {} lane(s): relative error {err:.2e}",
                plan.generated, plan.lanes
            );
            assert!(err < 1e-5, "subgroups {subgroups}, n_fft {n_fft}: {err:e}");
            if !subgroups {
                assert_eq!(plan.lanes, 1);
            }
        }
    }
}

#[test]
fn many_frames_per_workgroup_and_partial_last_group() {
    let Some(ctx) = gpu("many_frames") else {
        return;
    };
    let mut rng = Rng::fresh("many_frames");
    // n_fft 32 packs 64 frames per workgroup; 5 signals x 93 frames leaves a partial group.
    let batch = random_batch(&mut rng, 5, 1013);
    for hop in [1, 11, 32] {
        let err = gpu_error(ctx, &as_refs(&batch), &StftConfig::new(32, hop));
        assert!(err < 1e-5, "hop {hop}: {err:e}");
    }
}

#[test]
fn matches_torch_convention_frame_for_frame() {
    let Some(ctx) = gpu("torch_convention") else {
        return;
    };
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/torch_convention.json"
    ))
    .unwrap();
    let golden: serde_json::Value = serde_json::from_str(&text).unwrap();
    for case in golden["cases"].as_array().unwrap() {
        let n_fft = case["n_fft"].as_u64().unwrap() as usize;
        let hop = case["hop"].as_u64().unwrap() as usize;
        let signal: Vec<f32> = case["signal"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        let re: Vec<f64> = case["re"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let im: Vec<f64> = case["im"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let cfg = StftConfig::new(n_fft, hop);
        let spec = stft_gpu::stft(ctx, &[&signal], &cfg).unwrap();
        assert_eq!(spec.frames as u64, case["frames"].as_u64().unwrap());
        assert_eq!(spec.bins as u64, case["bins"].as_u64().unwrap());
        for f in 0..spec.frames {
            let at = |v: &[f64], k: usize| v[f * spec.bins + k];
            let row: Vec<f64> = (0..spec.bins)
                .flat_map(|k| [at(&re, k), at(&im, k)])
                .collect();
            let got = widen(&spec.data[f * 2 * spec.bins..(f + 1) * 2 * spec.bins]);
            let err = relative_error(&got, &row);
            assert!(err < 1e-5, "n_fft {n_fft} frame {f}: {err:e}");
        }
    }
}

#[test]
fn formats_and_windows_match_the_cpu_path() {
    let Some(ctx) = gpu("formats_and_windows") else {
        return;
    };
    let mut rng = Rng::fresh("formats_and_windows");
    let batch = random_batch(&mut rng, 2, 3000);
    let refs = as_refs(&batch);
    for window in [
        Window::Hann,
        Window::Hamming,
        Window::Blackman,
        Window::Rectangular,
    ] {
        for format in [
            SpectrumFormat::Magnitude,
            SpectrumFormat::Power,
            SpectrumFormat::Db,
        ] {
            let cfg = StftConfig {
                window,
                format,
                ..StftConfig::new(512, 128)
            };
            let got = stft_gpu::stft(ctx, &refs, &cfg).unwrap();
            let want = cpu::stft(&refs, &cfg, 1).unwrap();
            // dB values of quiet bins carry both transforms' f32 rounding
            // magnified by the logarithm: compare them as power (the same
            // bound as every other format), and each bin within what an
            // amplitude error of 1e-5 of the loudest bin's means at its level.
            let (got_v, want_v) = match format {
                SpectrumFormat::Db => (db_to_power(&got.data), db_to_power(&want.data)),
                _ => (widen(&got.data), widen(&want.data)),
            };
            let err = relative_error(&got_v, &want_v);
            assert!(err < 1e-5, "{window:?} {format:?}: {err:e}");
            if format == SpectrumFormat::Db {
                let loudest = want.data.iter().copied().fold(f32::MIN, f32::max) as f64;
                for (g, w) in got.data.iter().zip(&want.data) {
                    let below = 10f64.powf((loudest - *w as f64) / 20.0);
                    let allowed = 8.686e-5 * below + 1e-4;
                    assert!(((g - w) as f64).abs() < allowed, "{window:?} dB {g} vs {w}");
                }
            }
        }
    }
}

fn db_to_power(db: &[f32]) -> Vec<f64> {
    db.iter().map(|&v| 10f64.powf(v as f64 / 10.0)).collect()
}

#[test]
fn multi_resolution_in_one_submission() {
    let Some(ctx) = gpu("multi_resolution") else {
        return;
    };
    let mut rng = Rng::fresh("multi_resolution");
    let batch = random_batch(&mut rng, 3, 4000);
    let refs = as_refs(&batch);
    let cfgs = [
        StftConfig::new(2048, 512),
        StftConfig::new(512, 128),
        StftConfig::new(128, 32),
        StftConfig::new(64, 16),
    ];
    let specs = stft_gpu::stft_multi(ctx, &refs, &cfgs).unwrap();
    assert_eq!(specs.len(), cfgs.len());
    for (spec, cfg) in specs.iter().zip(&cfgs) {
        let err = relative_error(&widen(&spec.data), &reference_flat(&refs, cfg));
        assert!(err < 1e-5, "{cfg:?}: {err:e}");
    }
}

#[test]
fn small_workgroup_memory_and_chunked_outputs_give_the_same_result() {
    let mut rng = Rng::fresh("fallbacks");
    for software in [false, true] {
        let options = GpuOptions {
            max_workgroup_storage: Some(16 * 1024),
            max_binding: Some(256 * 1024),
            plan_as_software: Some(software),
            ..GpuOptions::from_env()
        };
        let Some(ctx) = gpu_with("fallbacks", options) else {
            return;
        };
        assert_eq!(ctx.workgroup_storage(), 16 * 1024);
        for (n_fft, hop) in [(8192, 2048), (4096, 1000), (256, 64)] {
            // Outputs over 256 KiB are split into several dispatches (2 to 4
            // here); 16 KiB makes the large transforms exchange real and
            // imaginary parts separately.
            let batch = random_batch(&mut rng, 2, (3 * n_fft + 17).max(20_000));
            let err = gpu_error(&ctx, &as_refs(&batch), &StftConfig::new(n_fft, hop));
            assert!(
                err < 1e-5,
                "software plan {software}, n_fft {n_fft}: {err:e}"
            );
        }
    }
}

#[test]
fn inverse_round_trips_and_matches_the_cpu_inverse() {
    let Some(ctx) = gpu("inverse") else { return };
    let mut rng = Rng::fresh("inverse");
    for (n_fft, hop) in [
        (16, 4),
        (64, 16),
        (512, 128),
        (1024, 300),
        (4096, 1024),
        (8192, 2048),
    ] {
        let len = rng.range(n_fft, 3 * n_fft);
        let batch = random_batch(&mut rng, 2, len);
        let refs = as_refs(&batch);
        let cfg = StftConfig::new(n_fft, hop);
        let spec = stft_gpu::stft(ctx, &refs, &cfg).unwrap();
        let back = stft_gpu::istft(ctx, &spec, &cfg, Some(len)).unwrap();
        let cpu_back = cpu::istft(&spec, &cfg, Some(len)).unwrap();
        for s in 0..2 {
            let err = relative_error(&widen(&back[s]), &widen(&batch[s]));
            assert!(err < 1e-5, "round trip n_fft {n_fft} hop {hop}: {err:e}");
            let err = relative_error(&widen(&back[s]), &widen(&cpu_back[s]));
            assert!(err < 1e-5, "vs CPU inverse n_fft {n_fft}: {err:e}");
        }
    }
}

#[test]
fn bad_input_is_a_clear_error() {
    let Some(ctx) = gpu("bad_input") else { return };
    let x = vec![0.25f32; 2048];
    let e = stft_gpu::stft(ctx, &[&x], &StftConfig::new(1000, 100))
        .unwrap_err()
        .to_string();
    assert!(e.contains("n_fft") && e.contains("1000"), "{e}");
    let e = stft_gpu::stft(ctx, &[&x], &StftConfig::new(256, 0))
        .unwrap_err()
        .to_string();
    assert!(e.contains("hop"), "{e}");
    let mut nan = x.clone();
    nan[5] = f32::NAN;
    let e = stft_gpu::stft(ctx, &[&nan], &StftConfig::new(256, 64))
        .unwrap_err()
        .to_string();
    assert!(e.contains("not finite"), "{e}");
    let magnitude = Spectrogram {
        format: SpectrumFormat::Magnitude,
        ..stft_gpu::stft(ctx, &[&x], &StftConfig::new(64, 16)).unwrap()
    };
    let e = stft_gpu::istft(ctx, &magnitude, &StftConfig::new(64, 16), None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("complex"), "{e}");
}

#[test]
fn copy_kernel_copies_every_element() {
    let Some(ctx) = gpu("copy_kernel") else {
        return;
    };
    let mut rng = Rng::fresh("copy_kernel");
    for len in [1, 5, 1024, 100_003] {
        let data = rng.signal(len);
        assert_eq!(copy_on_device(ctx, &data).unwrap(), data, "len {len}");
    }
}
