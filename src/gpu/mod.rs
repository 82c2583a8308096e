//! GPU device, shaders, buffers and timing: everything the kernels share.
//!
//! [`GpuContext`] picks an adapter deliberately (hardware first, Vulkan/Metal/DX12,
//! never GL unless `WGPU_BACKEND` asks for it), opens a device with only the limits
//! and features wavesplat needs, caches compute pipelines by key and pools buffers.

mod buffers;
mod context;
pub mod copy;
pub mod fft;
pub mod fft_gen;
pub mod large_fft;
pub mod shader;
pub mod timing;

pub use buffers::{BufferPool, PooledBuffer};
pub use context::{
    AdapterSummary, DEFAULT_GENERATED_FFT, GENERATED_FFT_ENV, GpuContext, GpuOptions,
    MAX_GENERATED_FFT, parse_generated_fft,
};

/// Invocations per workgroup of the element-wise kernels (copy, overlap-add).
pub const LINEAR_WORKGROUP: u32 = 256;

/// Splits `groups` workgroups into a 2-D dispatch that stays under the
/// per-dimension limit; kernels rebuild the linear index as `x + y * groups_x`.
pub fn dispatch_2d(groups: u32, max_per_dimension: u32) -> (u32, u32) {
    if groups <= max_per_dimension {
        return (groups.max(1), 1);
    }
    let y = groups.div_ceil(max_per_dimension);
    (groups.div_ceil(y), y)
}

#[cfg(test)]
mod tests {
    use super::dispatch_2d;

    #[test]
    fn dispatch_2d_covers_every_group_within_limits() {
        for groups in [1u32, 7, 65_535, 65_536, 200_001, 4_000_000] {
            let (x, y) = dispatch_2d(groups, 65_535);
            assert!(x <= 65_535 && y <= 65_535);
            assert!(x as u64 * y as u64 >= groups as u64);
            assert!(
                (x as u64) * (y as u64 - 1) < groups as u64,
                "a whole row of idle groups"
            );
        }
    }
}
