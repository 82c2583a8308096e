//! Four-step FFTs longer than a workgroup holds, against rustfft in f64.

mod common;

use common::{Rng, gpu, gpu_with, relative_error};
use rustfft::FftPlanner;
use rustfft::num_complex::Complex;
use wavesplat::gpu::GpuOptions;
use wavesplat::gpu::large_fft;

fn reference(data: &[[f32; 2]], n: usize, inverse: bool) -> Vec<f64> {
    let mut planner = FftPlanner::<f64>::new();
    let fft = if inverse {
        planner.plan_fft_inverse(n)
    } else {
        planner.plan_fft_forward(n)
    };
    let scale = if inverse { 1.0 / n as f64 } else { 1.0 };
    data.chunks(n)
        .flat_map(|t| {
            let mut buf: Vec<Complex<f64>> = t
                .iter()
                .map(|c| Complex::new(c[0] as f64, c[1] as f64))
                .collect();
            fft.process(&mut buf);
            buf.into_iter()
                .flat_map(move |z| [z.re * scale, z.im * scale])
        })
        .collect()
}

fn flat(v: &[[f32; 2]]) -> Vec<f64> {
    v.iter().flat_map(|c| [c[0] as f64, c[1] as f64]).collect()
}

#[test]
fn forward_and_inverse_match_rustfft_from_64_to_2_pow_18() {
    let Some(ctx) = gpu("large_fft") else { return };
    let mut rng = Rng::fresh("large_fft");
    for log2 in [6, 7, 10, 13, 15, 18] {
        let n = 1usize << log2;
        let transforms = if log2 > 15 { 1 } else { 3 };
        let data: Vec<[f32; 2]> = (0..n * transforms)
            .map(|_| {
                [
                    (2.0 * rng.uniform() - 1.0) as f32,
                    (2.0 * rng.uniform() - 1.0) as f32,
                ]
            })
            .collect();
        for inverse in [false, true] {
            let got = large_fft::fft(ctx, &data, n, inverse).unwrap();
            let err = relative_error(&flat(&got), &reference(&data, n, inverse));
            eprintln!("n = 2^{log2} inverse {inverse}: relative error {err:.2e}");
            assert!(err < 1e-5, "n = 2^{log2}, inverse {inverse}: {err:e}");
        }
        let back =
            large_fft::fft(ctx, &large_fft::fft(ctx, &data, n, false).unwrap(), n, true).unwrap();
        let err = relative_error(&flat(&back), &flat(&data));
        assert!(err < 1e-5, "round trip 2^{log2}: {err:e}");
    }
}

#[test]
fn the_hardware_plan_matches_too() {
    let options = GpuOptions {
        plan_as_software: Some(false),
        ..GpuOptions::from_env()
    };
    let Some(ctx) = gpu_with("large_fft_hardware_plan", options) else {
        return;
    };
    let mut rng = Rng::fresh("large_fft_hardware_plan");
    let n = 1 << 14;
    let data: Vec<[f32; 2]> = (0..n)
        .map(|_| [rng.uniform() as f32 - 0.5, rng.uniform() as f32 - 0.5])
        .collect();
    let got = large_fft::fft(&ctx, &data, n, false).unwrap();
    let err = relative_error(&flat(&got), &reference(&data, n, false));
    assert!(err < 1e-5, "{err:e}");
}

#[test]
fn bad_input_is_a_clear_error() {
    let Some(ctx) = gpu("large_fft_bad") else {
        return;
    };
    let data = vec![[0.5f32, 0.0]; 100];
    assert!(
        large_fft::fft(ctx, &data, 100, false)
            .unwrap_err()
            .to_string()
            .contains("FFT length")
    );
    let e = large_fft::fft(ctx, &data, 64, false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("whole number"), "{e}");
    let mut nan = vec![[0.5f32, 0.0]; 64];
    nan[3][1] = f32::NAN;
    assert!(
        large_fft::fft(ctx, &nan, 64, false)
            .unwrap_err()
            .to_string()
            .contains("not finite")
    );
}
