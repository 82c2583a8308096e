//! CPU convolution: the direct f64 definition (short cases, the oracle) and
//! FFT overlap-add with rustfft in f64 (long ones, and the CPU backend).

use super::{check_inputs, check_pairing};
use crate::error::Result;
use rustfft::FftPlanner;
use rustfft::num_complex::Complex;

/// `y[n] = sum_m h[m] x[n - m]`, all len(x) + len(h) - 1 samples, in f64.
pub fn convolve_direct(x: &[f32], h: &[f32]) -> Vec<f64> {
    let mut y = vec![0.0f64; x.len() + h.len() - 1];
    for (m, &hm) in h.iter().enumerate() {
        for (n, &xn) in x.iter().enumerate() {
            y[n + m] += hm as f64 * xn as f64;
        }
    }
    y
}

/// Full convolution of each signal with its kernel (one kernel for all, or
/// one each) by FFT overlap-add in f64, on `threads` threads (0: all cores).
pub fn convolve(signals: &[&[f32]], kernels: &[&[f32]], threads: usize) -> Result<Vec<Vec<f32>>> {
    check_inputs("signal", signals)?;
    check_inputs("kernel", kernels)?;
    check_pairing(signals.len(), kernels.len())?;
    let threads = crate::stft::cpu::resolve_threads(threads);
    Ok(signals
        .iter()
        .enumerate()
        .map(|(i, x)| overlap_add(x, kernels[i % kernels.len()], threads))
        .collect())
}

/// One signal, one kernel: blocks of the signal transformed, multiplied by the
/// kernel's spectrum, transformed back and added at their offsets. Threads
/// take contiguous runs of blocks into private buffers, summed at the end.
fn overlap_add(x: &[f32], h: &[f32], threads: usize) -> Vec<f32> {
    let n = (2 * h.len()).next_power_of_two().max(64);
    let block = n - h.len() + 1;
    let mut planner = FftPlanner::<f64>::new();
    let forward = planner.plan_fft_forward(n);
    let inverse = planner.plan_fft_inverse(n);
    let mut kernel: Vec<Complex<f64>> = (0..n)
        .map(|i| Complex::new(h.get(i).map_or(0.0, |&v| v as f64), 0.0))
        .collect();
    forward.process(&mut kernel);
    let blocks = x.len().div_ceil(block);
    let per_thread = blocks.div_ceil(threads.min(blocks).max(1));
    let out_len = x.len() + h.len() - 1;
    let partials: Vec<(usize, Vec<f64>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..blocks)
            .step_by(per_thread)
            .map(|first| {
                let (forward, inverse, kernel) = (&forward, &inverse, &kernel);
                scope.spawn(move || {
                    let last = (first + per_thread).min(blocks);
                    let start = first * block;
                    let mut acc = vec![0.0f64; (last - first) * block + n];
                    let mut buffer = vec![Complex::new(0.0, 0.0); n];
                    for b in first..last {
                        let seg = &x[b * block..((b + 1) * block).min(x.len())];
                        for (i, v) in buffer.iter_mut().enumerate() {
                            *v = Complex::new(seg.get(i).map_or(0.0, |&s| s as f64), 0.0);
                        }
                        forward.process(&mut buffer);
                        buffer.iter_mut().zip(kernel).for_each(|(v, k)| *v *= k);
                        inverse.process(&mut buffer);
                        let offset = b * block - start;
                        for (i, v) in buffer.iter().enumerate() {
                            acc[offset + i] += v.re / n as f64;
                        }
                    }
                    (start, acc)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("worker"))
            .collect()
    });
    let mut y = vec![0.0f64; out_len];
    for (start, acc) in partials {
        for (i, v) in acc.into_iter().enumerate() {
            if let Some(slot) = y.get_mut(start + i) {
                *slot += v;
            }
        }
    }
    y.into_iter().map(|v| v as f32).collect()
}
