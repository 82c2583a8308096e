//! Every shader, in every instantiation the host can build, parses and
//! validates with naga. No GPU needed.

use wavesplat::conv::gpu::{Stage, source_for};
use wavesplat::gpu::fft::{FftDevice, FftPlan, MAX_N_FFT, MIN_N_FFT};
use wavesplat::gpu::shader::{self, compose_fft_kernel, validate, validate_for};
use wavesplat::stft::gpu::stft_constants;
use wavesplat::stft::loss::{LOSS_CONSTANTS, loss_kernel_source};
use wavesplat::stft::{SpectrumFormat, StftConfig};

#[test]
fn every_shader_instantiation_validates() {
    let mut failures = Vec::new();
    // Each source validates for its device: with subgroup operations only
    // where the device has them.
    let mut check_for = |name: String, source: String, subgroups: bool| {
        if let Err(e) = validate_for(&name, &source, subgroups) {
            failures.push(e.to_string());
        }
    };
    for (name, source) in [
        ("copy", shader::COPY_WGSL),
        ("atoms", shader::ATOMS_WGSL),
        ("gp", shader::GP_WGSL),
        ("pursuit", shader::PURSUIT_WGSL),
    ] {
        check_for(name.into(), source.into(), false);
    }
    let mut n = MIN_N_FFT;
    while n <= MAX_N_FFT {
        for device in [16 * 1024, 32 * 1024].into_iter().flat_map(|s| {
            let lavapipe = FftDevice {
                subgroup_size: 8,
                ..FftDevice::software(s)
            };
            [FftDevice::gpu(s), FftDevice::software(s), lavapipe]
        }) {
            let mut check = |name, source| check_for(name, source, device.subgroup_size > 0);
            let plan = FftPlan::new(n, device).unwrap();
            // The real-forward kernels also with their own plan (generated
            // as straight-line code on software devices for small frames).
            let forward = FftPlan::real_forward(n, device).unwrap();
            for format in [
                SpectrumFormat::Complex,
                SpectrumFormat::Magnitude,
                SpectrumFormat::Power,
                SpectrumFormat::Db,
            ] {
                let extra = stft_constants(&StftConfig::new(n, n / 4).with_format(format));
                for p in [&plan, &forward] {
                    let text = compose_fft_kernel(p, &extra, shader::STFT_WGSL);
                    check(format!("stft.{}.{format:?}", p.key()), text);
                }
            }
            let text = compose_fft_kernel(&forward, LOSS_CONSTANTS, &loss_kernel_source());
            check(format!("stft_loss.{}", forward.key()), text);
            let text = compose_fft_kernel(&plan, "", shader::ISTFT_WGSL);
            check(format!("istft.{}", plan.key()), text);
            let text = compose_fft_kernel(&plan, LOSS_CONSTANTS, &loss_kernel_source());
            check(format!("stft_loss.{}", plan.key()), text);
            for columns in ["true", "false"] {
                let extra = format!("const STEP_COLUMNS: bool = {columns};\n");
                let text = compose_fft_kernel(&plan, &extra, shader::FFT_LARGE_WGSL);
                check(format!("fft_large.{columns}.{}", plan.key()), text);
            }
            for stage in [Stage::Forward, Stage::Inverse] {
                let text = compose_fft_kernel(&plan, source_for(stage), shader::CONV_WGSL);
                check(format!("conv.{stage:?}.{}", plan.key()), text);
            }
        }
        n *= 2;
    }
    assert!(
        failures.is_empty(),
        "{} shader(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn subgroup_operations_validate_only_for_devices_that_have_them() {
    let lavapipe = FftDevice {
        subgroup_size: 8,
        ..FftDevice::software(32 * 1024)
    };
    let plan = FftPlan::real_forward(4096, lavapipe).unwrap();
    assert!(plan.lanes > 1, "{plan:?}");
    let extra = stft_constants(&StftConfig::new(4096, 1024));
    let text = compose_fft_kernel(&plan, &extra, shader::STFT_WGSL);
    validate_for("lanes", &text, true).unwrap();
    let e = validate("lanes", &text).unwrap_err().to_string();
    assert!(e.to_lowercase().contains("subgroup"), "{e}");
}

#[test]
fn a_broken_shader_is_reported_with_its_location() {
    let e = validate("broken", "fn main() { let x: u32 = 1.5; }")
        .unwrap_err()
        .to_string();
    assert!(e.contains("broken") && e.contains(":1:"), "{e}");
}
