//! Planning for the shared workgroup FFT (`shaders/fft.wgsl`): plain data a test
//! can check without a GPU, then the constant block and twiddle table a kernel
//! is built from.
//!
//! A real transform of N = 2M points runs as a complex transform of M points
//! (even samples in the real part, odd ones in the imaginary part). Each
//! workgroup holds whole transforms in registers; workgroup memory only
//! exchanges values between radix passes.

use crate::error::{Error, Result};

/// Smallest and largest real transform sizes supported.
pub const MIN_N_FFT: usize = 16;
pub const MAX_N_FFT: usize = 8192;

/// Invocations per workgroup at least: several small frames share a workgroup.
const MIN_THREADS: u32 = 64;

/// What a device offers the FFT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FftDevice {
    /// Workgroup memory per workgroup, bytes.
    pub workgroup_storage: u32,
    /// Complex values each invocation keeps in registers: 32 on GPUs (register
    /// pressure), 64 on CPU rasterisers, where every exchange through
    /// workgroup memory is a per-lane loop and fewer, larger passes pay.
    pub slots: u32,
    /// Most complex values one invocation transforms in a generated real
    /// forward transform ([`FftPlan::real_forward`]; half of
    /// [`super::GENERATED_FFT_ENV`], default [`super::DEFAULT_GENERATED_FFT`]
    /// samples): larger shares take lavapipe minutes to compile (about 2 s at
    /// 64 values, 5 s at 128, 20 s at 256, a minute at 512). 0 on GPUs, which
    /// need many invocations a frame to coalesce memory.
    pub generated_up_to: u32,
    /// Invocations in a subgroup where the device has subgroup operations of
    /// one fixed width and they are enabled (CPU rasterisers only), else 0.
    /// A generated transform then spreads each frame over up to this many
    /// lanes ([`LANE_VALUES`] values a lane), exchanging values by subgroup
    /// shuffles: on lavapipe n_fft 4096 runs generated in 8 lanes of 256.
    pub subgroup_size: u32,
}

impl FftDevice {
    /// Values for a hardware GPU with `workgroup_storage` bytes.
    pub fn gpu(workgroup_storage: u32) -> Self {
        FftDevice {
            workgroup_storage,
            slots: 32,
            generated_up_to: 0,
            subgroup_size: 0,
        }
    }

    /// Values for a software rasteriser (lavapipe) with `workgroup_storage` bytes.
    pub fn software(workgroup_storage: u32) -> Self {
        FftDevice {
            workgroup_storage,
            slots: 64,
            generated_up_to: (super::DEFAULT_GENERATED_FFT / 2) as u32,
            subgroup_size: 0,
        }
    }
}

/// log2 of the radices (first, last) and the pass count for a transform of
/// 2^log2_m points with `slots` values per invocation. Radix 32 at most in
/// the first and last passes, 16 between; the last pass must leave two
/// butterflies per invocation (the real-transform pairs k, M/r - k) and at
/// least two per frame.
fn choose_radices(log2_m: u32, slots: u32) -> (u32, u32, u32) {
    let last = (slots.trailing_zeros() - 1).min(5).min(log2_m - 1);
    let rest = log2_m - last;
    if rest <= 5 {
        return (rest, last, 2);
    }
    let middles = (rest - 5).div_ceil(4);
    (rest - 4 * middles, last, 2 + middles)
}

/// Complex values each lane of a subgroup-spread generated transform aims to
/// hold: on lavapipe 64 compile in about a second and run as fast as larger
/// shares (n_fft 256 to 1024, measured in BENCHMARKS.md).
pub const LANE_VALUES: u32 = 64;

/// Lanes a frame of M complex values is spread over in a generated transform
/// on `device`: with subgroups, enough for [`LANE_VALUES`] values a lane (at
/// most a subgroup), else 1; `None` where a lane's share would exceed
/// [`FftDevice::generated_up_to`] and the shared FFT runs instead.
fn generated_lanes(m: u32, device: FftDevice) -> Option<u32> {
    let subgroup = device.subgroup_size;
    let lanes = if subgroup >= 2 {
        (m / LANE_VALUES).clamp(1, subgroup)
    } else {
        1
    };
    (m / lanes <= device.generated_up_to).then_some(lanes)
}

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
    /// The real forward transform is written out as straight-line code
    /// (src/gpu/fft_gen.rs), one whole frame an invocation; the shared FFT's
    /// passes are not used and workgroup memory holds one value an invocation
    /// (for kernels that reduce through it).
    pub generated: bool,
    /// Invocations a frame of a generated transform is spread over, lanes of
    /// one subgroup (1: a whole frame an invocation).
    pub lanes: u32,
    /// The subgroup width the generated code assumes when `lanes` > 1, else 0.
    pub subgroup: u32,
}

impl FftPlan {
    /// Plans a real FFT of `n_fft` points for `device`.
    pub fn new(n_fft: usize, device: FftDevice) -> Result<Self> {
        if !n_fft.is_power_of_two() || !(MIN_N_FFT..=MAX_N_FFT).contains(&n_fft) {
            return Err(Error::invalid(
                "n_fft",
                format!(
                    "{n_fft} is not supported: use a power of two from {MIN_N_FFT} to {MAX_N_FFT}"
                ),
            ));
        }
        let m = (n_fft / 2) as u32;
        let slots = device.slots;
        let elements = m.max(MIN_THREADS * slots);
        let split = elements * 8 > device.workgroup_storage;
        if split && elements * 4 > device.workgroup_storage {
            return Err(Error::invalid(
                "n_fft",
                format!(
                    "{n_fft} needs {} bytes of workgroup memory; the device has {}",
                    elements * 4,
                    device.workgroup_storage
                ),
            ));
        }
        let (first_radix_log2, last_radix_log2, passes) = choose_radices(m.trailing_zeros(), slots);
        Ok(FftPlan {
            generated: false,
            lanes: 1,
            subgroup: 0,
            n_fft: n_fft as u32,
            m,
            frames_per_group: elements / m,
            threads: elements / slots,
            slots,
            passes,
            first_radix_log2,
            last_radix_log2,
            split,
        })
    }

    /// The plan for a kernel that only runs real forward transforms
    /// (`fft_forward_real`): written out as straight-line code, one frame an
    /// invocation, where the device asks for it at this size; else [`FftPlan::new`].
    ///
    /// # Errors
    /// Those of [`FftPlan::new`].
    pub fn real_forward(n_fft: usize, device: FftDevice) -> Result<Self> {
        let plan = Self::new(n_fft, device)?;
        let Some(lanes) = generated_lanes(plan.m, device) else {
            return Ok(plan);
        };
        let slots = plan.m / lanes;
        // The shared FFT's constants stay valid (its code is compiled, not run).
        let (first_radix_log2, last_radix_log2, passes) =
            choose_radices(plan.m.trailing_zeros(), plan.m);
        Ok(FftPlan {
            frames_per_group: MIN_THREADS / lanes,
            threads: MIN_THREADS,
            slots,
            lanes,
            subgroup: if lanes > 1 { device.subgroup_size } else { 0 },
            passes,
            first_radix_log2,
            last_radix_log2,
            split: false,
            generated: true,
            ..plan
        })
    }

    /// Complex values in the workgroup exchange array.
    fn exchanged(&self) -> u32 {
        if self.generated {
            self.threads
        } else {
            self.frames_per_group * self.m
        }
    }

    /// Bytes of workgroup memory the exchange array takes.
    pub fn workgroup_bytes(&self) -> u32 {
        self.exchanged() * if self.split { 4 } else { 8 }
    }

    /// Workgroups needed for `frames` transforms.
    pub fn groups_for(&self, frames: usize) -> u32 {
        frames.div_ceil(self.frames_per_group as usize) as u32
    }

    /// A key naming this plan in pipeline caches.
    pub fn key(&self) -> String {
        format!(
            "n{}r{}{}{}l{}",
            self.n_fft,
            self.slots,
            if self.split { "s" } else { "" },
            if self.generated { "g" } else { "" },
            self.lanes
        )
    }

    /// The constant block `shaders/fft.wgsl` expects (keep the names in sync).
    pub fn wgsl_constants(&self) -> String {
        let elements = self.exchanged();
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
}

/// The pipeline for `entry` of an FFT kernel: the plan's constants, the
/// kernel's own constants (`extra`, also part of the cache key), the shared FFT
/// pieces and the kernel source (see [`super::shader::compose_fft_kernel`]).
pub fn pipeline(
    ctx: &super::GpuContext,
    kernel: &str,
    source: &str,
    plan: &FftPlan,
    extra: &str,
    entry: &str,
) -> Result<std::sync::Arc<wgpu::ComputePipeline>> {
    let key = format!("{kernel}.{}{extra}", plan.key());
    ctx.pipeline(&key, entry, || {
        super::shader::compose_fft_kernel(plan, extra, source)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn devices() -> Vec<FftDevice> {
        let mut all = Vec::new();
        for storage in [16 * 1024, 32 * 1024] {
            all.push(FftDevice::gpu(storage));
            all.push(FftDevice::software(storage));
            for subgroup_size in [8, 32] {
                all.push(FftDevice {
                    subgroup_size,
                    ..FftDevice::software(storage)
                });
            }
        }
        all
    }

    #[test]
    fn every_supported_size_has_a_consistent_plan() {
        let mut n = MIN_N_FFT;
        while n <= MAX_N_FFT {
            for device in devices() {
                let p = FftPlan::new(n, device).unwrap();
                let context = format!("n={n} {device:?}: {p:?}");
                assert!(p.passes >= 2, "{context}");
                let radix_product =
                    (1 << p.first_radix_log2) * (1 << p.last_radix_log2) * 16u32.pow(p.passes - 2);
                assert_eq!(radix_product, p.m, "passes must multiply to M: {context}");
                assert_eq!(p.slots * p.threads, p.frames_per_group * p.m, "{context}");
                assert_eq!(
                    p.slots % (2 << p.last_radix_log2),
                    0,
                    "last pass pairs: {context}"
                );
                assert!(
                    p.m >> p.last_radix_log2 >= 2,
                    "two last-pass butterflies a frame: {context}"
                );
                assert!(
                    p.first_radix_log2 <= 5 && p.last_radix_log2 <= 5,
                    "{context}"
                );
                assert!(p.threads <= 256, "default invocation limit: {context}");
                assert!(p.workgroup_bytes() <= device.workgroup_storage, "{context}");
                assert!(!p.generated, "only real_forward generates: {context}");
                let r = FftPlan::real_forward(n, device).unwrap();
                if r.generated {
                    assert!(r.slots <= device.generated_up_to, "{context}");
                    assert_eq!(r.slots * r.lanes, r.m, "{context}");
                    assert_eq!(r.frames_per_group * r.lanes, r.threads, "{context}");
                    if r.lanes > 1 {
                        assert_eq!(r.subgroup, device.subgroup_size, "{context}");
                        assert_eq!(r.subgroup % r.lanes, 0, "lanes of one subgroup: {context}");
                        assert!(r.slots >= 2, "{context}");
                    }
                    assert!(
                        r.workgroup_bytes() >= r.threads * 4,
                        "room to reduce: {context}"
                    );
                    assert!(r.workgroup_bytes() <= device.workgroup_storage, "{context}");
                } else {
                    assert_eq!(r, p, "{context}");
                }
            }
            n *= 2;
        }
        assert!(FftPlan::new(8192, FftDevice::gpu(16 * 1024)).unwrap().split);
        assert!(!FftPlan::new(8192, FftDevice::gpu(32 * 1024)).unwrap().split);
    }

    #[test]
    fn subgroups_spread_large_generated_frames_over_lanes() {
        let lavapipe = FftDevice {
            subgroup_size: 8,
            ..FftDevice::software(32768)
        };
        let lanes = |n| {
            let p = FftPlan::real_forward(n, lavapipe).unwrap();
            p.generated.then_some(p.lanes)
        };
        // 64 values a lane up to 8 lanes, then larger shares up to the limit (256).
        assert_eq!(lanes(128), Some(1));
        assert_eq!(lanes(256), Some(2));
        assert_eq!(lanes(1024), Some(8));
        assert_eq!(lanes(4096), Some(8));
        assert_eq!(lanes(8192), None);
        let opt_in = FftDevice {
            generated_up_to: 512,
            ..lavapipe
        };
        assert!(FftPlan::real_forward(8192, opt_in).unwrap().generated);
        // Without subgroups a frame stays in one invocation.
        assert!(
            !FftPlan::real_forward(1024, FftDevice::software(32768))
                .unwrap()
                .generated
        );
        assert_eq!(
            FftPlan::real_forward(512, FftDevice::software(32768))
                .unwrap()
                .lanes,
            1
        );
    }

    #[test]
    fn bigger_register_sets_need_fewer_passes() {
        // n_fft 2048: 4 x 16 x 16 with 32 values per invocation, 32 x 32 with 64.
        assert_eq!(FftPlan::new(2048, FftDevice::gpu(32768)).unwrap().passes, 3);
        assert_eq!(
            FftPlan::new(2048, FftDevice::software(32768))
                .unwrap()
                .passes,
            2
        );
        assert_eq!(FftPlan::new(1024, FftDevice::gpu(32768)).unwrap().passes, 2);
    }

    #[test]
    fn unsupported_sizes_are_refused_with_the_reason() {
        for n in [0, 8, 100, 1000, 16384] {
            let e = FftPlan::new(n, FftDevice::gpu(16 * 1024))
                .unwrap_err()
                .to_string();
            assert!(e.contains("n_fft") && e.contains(&n.to_string()), "{e}");
        }
    }
}
