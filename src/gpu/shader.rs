//! Shader sources, composition and naga validation.
//!
//! WGSL has no include: a kernel that needs the shared FFT is the plan's
//! constant block, then `shaders/fft.wgsl`, then the kernel's own file.

use crate::error::{Error, Result};

/// The shared workgroup FFT (needs a constant block and a kernel around it).
pub const FFT_WGSL: &str = include_str!("../../shaders/fft.wgsl");
/// Forward real-input transforms on the shared FFT (bins to kernel callbacks).
pub const FFT_REAL_WGSL: &str = include_str!("../../shaders/fft_real.wgsl");
/// Batched STFT kernel.
pub const STFT_WGSL: &str = include_str!("../../shaders/stft.wgsl");
/// The STFT loss's per-bin terms and gradient (appended to the STFT kernel).
pub const STFT_LOSS_WGSL: &str = include_str!("../../shaders/stft_loss.wgsl");
/// Inverse STFT kernels (inverse frames, overlap-add).
pub const ISTFT_WGSL: &str = include_str!("../../shaders/istft.wgsl");
/// Partitioned overlap-save convolution kernels.
pub const CONV_WGSL: &str = include_str!("../../shaders/conv.wgsl");
/// Four-step FFTs longer than a workgroup holds.
pub const FFT_LARGE_WGSL: &str = include_str!("../../shaders/fft_large.wgsl");
/// Gaussian-process sampling kernels (noise spectrum, amplitude and mixing).
pub const GP_WGSL: &str = include_str!("../../shaders/gp.wgsl");
/// Device-memory copy, the bandwidth yardstick.
pub const COPY_WGSL: &str = include_str!("../../shaders/copy.wgsl");
/// Atom rendering: the tile gather (src/atoms/gpu.rs).
pub const ATOMS_WGSL: &str = include_str!("../../shaders/atoms.wgsl");
/// Matching-pursuit scoring: project, scan, reduce (src/encode/gpu.rs).
pub const PURSUIT_WGSL: &str = include_str!("../../shaders/pursuit.wgsl");

/// Joins shader pieces into one module source.
pub fn compose(parts: &[&str]) -> String {
    parts.join("\n")
}

/// An FFT kernel's full source: the plan's constants, the kernel's own
/// constants (`extra`), the shared FFT, then when the kernel runs real
/// forward transforms (it calls `fft_forward_real`) their definition
/// (`shaders/fft_real.wgsl` on the shared FFT, or for a generated plan the
/// straight-line transform of [`super::fft_gen`]), then the kernel.
pub fn compose_fft_kernel(plan: &super::fft::FftPlan, extra: &str, kernel: &str) -> String {
    let real = if !kernel.contains("fft_forward_real") {
        String::new()
    } else if plan.generated && plan.lanes > 1 {
        super::fft_gen::real_forward_lanes_wgsl(plan.m, plan.lanes, plan.subgroup)
    } else if plan.generated {
        super::fft_gen::real_forward_wgsl(plan.m)
    } else {
        FFT_REAL_WGSL.to_string()
    };
    compose(&[&plan.wgsl_constants(), extra, FFT_WGSL, &real, kernel])
}

/// Parses and validates WGSL with naga for a device without subgroup
/// operations; the error carries every message with its source location.
pub fn validate(name: &str, source: &str) -> Result<()> {
    validate_for(name, source, false)
}

/// [`validate`] for a device that has subgroup operations (wgpu's
/// `SUBGROUP` feature) if `subgroups`: only then may the shader use them
/// (generated transforms spread over subgroup lanes).
pub fn validate_for(name: &str, source: &str, subgroups: bool) -> Result<()> {
    let module = naga::front::wgsl::parse_str(source).map_err(|e| Error::Shader {
        name: name.to_string(),
        message: e.emit_to_string_with_path(source, name),
    })?;
    let mut capabilities = naga::valid::Capabilities::default();
    if subgroups {
        capabilities |= naga::valid::Capabilities::SUBGROUP;
    }
    let mut validator =
        naga::valid::Validator::new(naga::valid::ValidationFlags::all(), capabilities);
    validator.validate(&module).map_err(|e| Error::Shader {
        name: name.to_string(),
        message: e.emit_to_string_with_path(source, name),
    })?;
    Ok(())
}

/// Size in bytes of the WGSL struct `name` in `source` as naga lays it out;
/// tests use it to keep host parameter structs in step with their shaders.
pub fn wgsl_struct_size(source: &str, name: &str) -> Result<u32> {
    let module = naga::front::wgsl::parse_str(source).map_err(|e| Error::Shader {
        name: name.to_string(),
        message: e.emit_to_string(source),
    })?;
    let mut layouter = naga::proc::Layouter::default();
    layouter
        .update(module.to_ctx())
        .map_err(|e| Error::Shader {
            name: name.to_string(),
            message: e.to_string(),
        })?;
    let (handle, _) = module
        .types
        .iter()
        .find(|(_, t)| t.name.as_deref() == Some(name))
        .ok_or_else(|| Error::Shader {
            name: name.to_string(),
            message: "no such struct".to_string(),
        })?;
    Ok(layouter[handle].size)
}
