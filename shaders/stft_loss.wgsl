// Multi-resolution STFT loss, one resolution: the candidate's STFT, each bin's
// loss term, and dL/dY. Appended to shaders/stft.wgsl (with what that is
// prefixed by); the host's constant block holds only `alias Bin = vec2<f32>;`
// and this file supplies the `store_bin` the STFT kernel hands every bin to.
//
// Per bin, with X the target's bin (its magnitude in `target_magnitude`, same
// frames x bins layout) and Y the candidate's:
//   term  = w_log |log10 max(|Y|^2, floor) - log10 max(|X|^2, floor)| + w_lin ||Y| - |X||
//   dL/dY = w_log sign(log diff) 2 Y / (ln 10 |Y|^2)  (zero on the floor)
//         + w_lin sign(lin diff) Y / |Y|              (zero at Y = 0)
// the weights already divided by resolutions x frames x bins (the means).
// Each workgroup's terms are summed into `partials` (the host adds them in
// f64). dL/dY goes to `spectra`, scaled for the one-sided adjoint so that the
// inverse real FFT of istft.wgsl's `inverse_frames` (irfft, 1/N, imaginary
// parts of DC and Nyquist dropped) gives Re sum_k dL/dY_k e^{+2 pi i k n / N}:
// N for DC and Nyquist, N / 2 for the bins between, which stand for two of
// the full spectrum. `overlap_add_adjoint` then gathers the frames.

// Keep in sync with LossParams in src/stft/loss.rs.
struct LossParams {
    log_weight: f32,
    linear_weight: f32,
    floor: f32,
    _pad: f32,
}

@group(0) @binding(3) var<storage, read> target_magnitude: array<f32>;
@group(0) @binding(4) var<storage, read_write> partials: array<f32>;
@group(0) @binding(5) var<uniform> loss: LossParams;

// This invocation's share of the workgroup's loss.
var<private> loss_sum: f32;

const LN_10: f32 = 2.302585092994046;

fn store_bin(i: u32, k: u32, y: vec2<f32>) {
    let x = target_magnitude[i];
    let power = dot(y, y);
    let magnitude = sqrt(power);
    let log_diff = log10(max(power, loss.floor)) - log10(max(x * x, loss.floor));
    let linear_diff = magnitude - x;
    loss_sum += loss.log_weight * abs(log_diff) + loss.linear_weight * abs(linear_diff);
    let log_scale = select(0.0, loss.log_weight * sign(log_diff) * 2.0 / (LN_10 * power), power > loss.floor);
    let linear_scale = select(0.0, loss.linear_weight * sign(linear_diff) / magnitude, magnitude > 0.0);
    let one_sided = select(f32(FFT_M), 2.0 * f32(FFT_M), k == 0u || k == FFT_M);
    spectra[i] = (log_scale + linear_scale) * one_sided * y;
}

// The sum of `value` over the workgroup, through the FFT's exchange memory
// (unused by a generated transform, and free again once the shared FFT has
// returned: its last exchange ends in a barrier).
fn workgroup_sum(tid: u32, value: f32) -> f32 {
    fft_sh_store(tid, vec2<f32>(value, 0.0), 0u);
    workgroupBarrier();
    for (var stride = FFT_THREADS >> 1u; stride > 0u; stride >>= 1u) {
        if (tid < stride) {
            let a = fft_sh_load(tid, vec2<f32>(0.0), 0u).x;
            let b = fft_sh_load(tid + stride, vec2<f32>(0.0), 0u).x;
            fft_sh_store(tid, vec2<f32>(a + b, 0.0), 0u);
        }
        workgroupBarrier();
    }
    return fft_sh_load(0u, vec2<f32>(0.0), 0u).x;
}

@compute @workgroup_size(FFT_THREADS)
fn loss_frames(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
    let group = workgroup_index(wg);
    // Uniform exit: the group is the same for the whole workgroup.
    if (!begin_group(group)) {
        return;
    }
    fft_forward_real(tid);
    let total = workgroup_sum(tid, loss_sum);
    if (tid == 0u) {
        partials[group] = total;
    }
}
