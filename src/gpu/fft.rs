//! Planning for the shared workgroup FFT (`shaders/fft.wgsl`): plain data a test
//! can check without a GPU, then the constant block and twiddle table a kernel
//! is built from.
//!
//! A real transform of N = 2M points runs as a complex transform of M points
//! (even samples in the real part, odd ones in the imaginary part). Each
//! workgroup holds whole transforms in registers; workgroup memory only
//! exchanges values between radix passes.

use crate::error::{Error, Result};
use std::f64::consts::PI;

/// Smallest and largest real transform sizes supported.
pub const MIN_N_FFT: usize = 16;
pub const MAX_N_FFT: usize = 8192;

/// Complex values each invocation holds: two radix-16 butterflies a pass.
const SLOTS: u32 = 32;
/// Complex values per workgroup for small transforms: several frames share a
/// workgroup so it has at least 64 invocations.
const MIN_ELEMENTS: u32 = 2048;

/// How one real FFT size maps onto workgroups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FftPlan {
    /// Real transform length N.
    pub n_fft: u32,
    /// Complex transform length M = N / 2.
    pub m: u32,
    /// Transforms per workgroup.
    pub frames_per_group: u32,
    /// Invocations per workgroup.
    pub threads: u32,
    /// Complex values each invocation holds.
    pub slots: u32,
    /// Radix passes (at least 2): the first of radix 2^first_radix_log2, the
    /// last of radix 2^last_radix_log2, radix 8 between.
    pub passes: u32,
    pub first_radix_log2: u32,
    pub last_radix_log2: u32,
    /// Exchange real and imaginary parts in two rounds to fit workgroup memory.
    pub split: bool,
}

impl FftPlan {
    /// Plans a real FFT of `n_fft` points for a device with `workgroup_storage`
    /// bytes of workgroup memory.
    pub fn new(n_fft: usize, workgroup_storage: u32) -> Result<Self> {
        if !n_fft.is_power_of_two() || !(MIN_N_FFT..=MAX_N_FFT).contains(&n_fft) {
            return Err(Error::invalid(
                "n_fft",
                format!(
                    "{n_fft} is not supported: use a power of two from {MIN_N_FFT} to {MAX_N_FFT}"
                ),
            ));
        }
        let m = (n_fft / 2) as u32;
        let elements = m.max(MIN_ELEMENTS);
        let log2_m = m.trailing_zeros();
        let pair_bytes = elements * 8;
        let split = pair_bytes > workgroup_storage;
        if split && elements * 4 > workgroup_storage {
            return Err(Error::invalid(
                "n_fft",
                format!(
                    "{n_fft} needs {} bytes of workgroup memory; the device has {workgroup_storage}",
                    elements * 4
                ),
            ));
        }
        // Radix 16 wherever it fits. The last pass must have at least two
        // butterflies per frame so the real-transform pairs (k, M/r - k) exist:
        // 8 points run as 2 x 4, 16 as 2 x 8.
        let (first_radix_log2, last_radix_log2) = match log2_m {
            3 => (1, 2),
            4 => (1, 3),
            // 512 as 32 x 16: one exchange instead of two (radix 32 is first-pass only).
            9 => (5, 4),
            _ => (
                match (log2_m - 4) % 4 {
                    0 => 4,
                    r => r,
                },
                4,
            ),
        };
        let passes = 2 + (log2_m - first_radix_log2 - last_radix_log2) / 4;
        Ok(FftPlan {
            n_fft: n_fft as u32,
            m,
            frames_per_group: elements / m,
            threads: elements / SLOTS,
            slots: SLOTS,
            passes,
            first_radix_log2,
            last_radix_log2,
            split,
        })
    }

    /// Workgroups needed for `frames` transforms.
    pub fn groups_for(&self, frames: usize) -> u32 {
        frames.div_ceil(self.frames_per_group as usize) as u32
    }

    /// A key naming this plan in pipeline caches.
    pub fn key(&self) -> String {
        format!("n{}{}", self.n_fft, if self.split { "s" } else { "" })
    }

    /// The constant block `shaders/fft.wgsl` expects (keep the names in sync).
    pub fn wgsl_constants(&self) -> String {
        let elements = self.frames_per_group * self.m;
        format!(
            "const FFT_M: u32 = {}u;\nconst FFT_LOG2_M: u32 = {}u;\nconst FFT_FRAMES: u32 = {}u;\n\
             const FFT_THREADS: u32 = {}u;\nconst FFT_SLOTS: u32 = {}u;\nconst FFT_PASSES: u32 = {}u;\n\
             const FFT_FIRST_LOG2R: u32 = {}u;\nconst FFT_LAST_LOG2R: u32 = {}u;\nconst FFT_SPLIT: bool = {};\n\
             const FFT_SH_PAIRS: u32 = {}u;\nconst FFT_SH_HALVES: u32 = {}u;\n",
            self.m,
            self.m.trailing_zeros(),
            self.frames_per_group,
            self.threads,
            self.slots,
            self.passes,
            self.first_radix_log2,
            self.last_radix_log2,
            self.split,
            if self.split { 1 } else { elements },
            if self.split { elements } else { 1 },
        )
    }

    /// exp(-2 pi i q / N) for q in 0..N, computed in f64 (the FFT uses the even
    /// entries, the real-transform unpacking all of them).
    pub fn twiddles(&self) -> Vec<[f32; 2]> {
        let n = self.n_fft as f64;
        (0..self.n_fft)
            .map(|q| {
                let angle = -2.0 * PI * q as f64 / n;
                [angle.cos() as f32, angle.sin() as f32]
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_supported_size_has_a_consistent_plan() {
        let mut n = MIN_N_FFT;
        while n <= MAX_N_FFT {
            for storage in [16 * 1024, 32 * 1024] {
                let p = FftPlan::new(n, storage).unwrap();
                assert!(p.passes >= 2);
                let radix_product =
                    (1 << p.first_radix_log2) * (1 << p.last_radix_log2) * 16u32.pow(p.passes - 2);
                assert_eq!(radix_product, p.m, "passes must multiply to M for n={n}");
                assert_eq!(p.slots * p.threads, p.frames_per_group * p.m);
                assert_eq!(
                    p.slots % (2 << p.last_radix_log2),
                    0,
                    "last pass pairs butterflies"
                );
                assert!(p.threads <= 256, "default invocation limit");
                let bytes = p.frames_per_group * p.m * if p.split { 4 } else { 8 };
                assert!(bytes <= storage, "n={n} uses {bytes} bytes of {storage}");
            }
            n *= 2;
        }
        assert!(FftPlan::new(8192, 16 * 1024).unwrap().split);
        assert!(!FftPlan::new(8192, 32 * 1024).unwrap().split);
    }

    #[test]
    fn unsupported_sizes_are_refused_with_the_reason() {
        for n in [0, 8, 100, 1000, 16384] {
            let e = FftPlan::new(n, 16 * 1024).unwrap_err().to_string();
            assert!(e.contains("n_fft") && e.contains(&n.to_string()), "{e}");
        }
    }
}
