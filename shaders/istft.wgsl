// Inverse STFT by weighted overlap-add, in two entry points run one after the
// other in the same submission. Prefixed by the FFT constant block,
// shaders/fft.wgsl and shaders/fft_real.wgsl.
//
// `frames`: each one-sided spectrum X[0..=M] (M = FFT_M, N = 2M) is turned back
// into a real frame with the packed inverse real FFT, windowed again and stored.
// `overlap_add`: each output sample gathers the frames that cover it and divides
// by the summed squared window, as torch.istft(center=True) does.
// `overlap_add_adjoint`: the adjoint of the STFT's framing, for the STFT loss
// (shaders/stft_loss.wgsl): each signal sample gathers the frames at its own
// padded position and at the reflected positions that mirror it, without the
// division, and with `accumulate` adds to what `output` holds (one gradient
// for every resolution).

// Keep in sync with IstftParams in src/stft/gpu.rs.
struct IstftParams {
    frames_per_signal: u32,
    total_frames: u32,
    hop: u32,
    out_len: u32,
    signals: u32,
    groups_x: u32,
    // overlap_add_adjoint: 1 adds to `output`, 0 overwrites it.
    accumulate: u32,
    _pad: u32,
}

@group(0) @binding(1) var<storage, read> window: array<f32>;
@group(0) @binding(2) var<storage, read> spectra: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read_write> frames: array<f32>;
@group(0) @binding(4) var<storage, read_write> output: array<f32>;
@group(0) @binding(5) var<uniform> params: IstftParams;

var<private> group_first_frame: u32;

fn fft_source(frame: u32, k: u32) -> vec2<f32> {
    let g = min(group_first_frame + frame, params.total_frames - 1u); // see fft_source in fft.wgsl
    let bins = g * (FFT_M + 1u);
    return fft_inverse_input(k, spectra[bins + k], spectra[bins + FFT_M - k]);
}

@compute @workgroup_size(FFT_THREADS)
fn inverse_frames(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
    let first = (wg.x + wg.y * params.groups_x) * FFT_FRAMES;
    // Uniform exit: `first` is the same for the whole workgroup.
    if (first >= params.total_frames) {
        return;
    }
    group_first_frame = first;
    fft_run(tid, FFT_LAYOUT_NATURAL);
    for (var s = 0u; s < FFT_SLOTS; s++) {
        let e = fft_inverse_element(s, tid);
        let g = first + (e >> FFT_LOG2_M);
        let n = e & (FFT_M - 1u);
        if (g < params.total_frames) {
            let x = fft_inverse_samples(s);
            let base = g * 2u * FFT_M;
            frames[base + 2u * n] = x.x * window[2u * n];
            frames[base + 2u * n + 1u] = x.y * window[2u * n + 1u];
        }
    }
}

// Over the frames of `signal` that cover padded position t (t = sample + M):
// (sum of their values there, sum of the squared window there).
fn overlap_sum(signal: u32, t: u32) -> vec2<f32> {
    let n = 2u * FFT_M;
    let last = min(t / params.hop, params.frames_per_signal - 1u);
    var first = 0u;
    if (t >= n) {
        first = (t - n) / params.hop + 1u;
    }
    var sum = vec2<f32>(0.0);
    for (var f = first; f <= last; f++) {
        let offset = t - f * params.hop;
        let value = frames[(signal * params.frames_per_signal + f) * n + offset];
        sum += vec2<f32>(value, window[offset] * window[offset]);
    }
    return sum;
}

@compute @workgroup_size(256)
fn overlap_add(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = gid.x + gid.y * groups.x * 256u;
    if (i >= params.signals * params.out_len) {
        return;
    }
    let sum = overlap_sum(i / params.out_len, i % params.out_len + FFT_M);
    output[i] = sum.x / sum.y;
}

// Sample s of a signal of L = out_len samples is read at padded position
// s + M, at M - s (the left reflection, 1 <= s <= M) and at M + 2 (L - 1) - s
// (the right one, L - 1 - M <= s <= L - 2).
@compute @workgroup_size(256)
fn overlap_add_adjoint(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = gid.x + gid.y * groups.x * 256u;
    let len = params.out_len;
    if (i >= params.signals * len) {
        return;
    }
    let signal = i / len;
    let s = i % len;
    var g = overlap_sum(signal, s + FFT_M).x;
    if (s >= 1u && s <= FFT_M) {
        g += overlap_sum(signal, FFT_M - s).x;
    }
    if (s + 1u < len && len - 1u - s <= FFT_M) {
        g += overlap_sum(signal, FFT_M + 2u * (len - 1u) - s).x;
    }
    if (params.accumulate != 0u) {
        g += output[i];
    }
    output[i] = g;
}
