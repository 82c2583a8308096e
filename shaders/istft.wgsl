// Inverse STFT by weighted overlap-add, in two entry points run one after the
// other in the same submission. Prefixed by the FFT constant block,
// shaders/fft.wgsl and shaders/fft_real.wgsl.
//
// `frames`: each one-sided spectrum X[0..=M] (M = FFT_M, N = 2M) is turned back
// into a real frame with the packed inverse real FFT, windowed again and stored.
// `overlap_add`: each output sample gathers the frames that cover it and divides
// by the summed squared window, as torch.istft(center=True) does.

// Keep in sync with IstftParams in src/stft/gpu.rs.
struct IstftParams {
    frames_per_signal: u32,
    total_frames: u32,
    hop: u32,
    out_len: u32,
    signals: u32,
    groups_x: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(1) var<storage, read> window: array<f32>;
@group(0) @binding(2) var<storage, read> spectra: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read_write> frames: array<f32>;
@group(0) @binding(4) var<storage, read_write> output: array<f32>;
@group(0) @binding(5) var<uniform> params: IstftParams;

var<private> group_first_frame: u32;

fn fft_source(frame: u32, k: u32) -> vec2<f32> {
    let g = group_first_frame + frame;
    if (g >= params.total_frames) {
        return vec2<f32>(0.0);
    }
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

@compute @workgroup_size(256)
fn overlap_add(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = gid.x + gid.y * groups.x * 256u;
    if (i >= params.signals * params.out_len) {
        return;
    }
    let signal = i / params.out_len;
    let t = i % params.out_len + FFT_M; // position in the centre-padded signal
    let n = 2u * FFT_M;
    let last = min(t / params.hop, params.frames_per_signal - 1u);
    var first = 0u;
    if (t >= n) {
        first = (t - n) / params.hop + 1u;
    }
    var sum = 0.0;
    var envelope = 0.0;
    for (var f = first; f <= last; f++) {
        let offset = t - f * params.hop;
        sum += frames[(signal * params.frames_per_signal + f) * n + offset];
        envelope += window[offset] * window[offset];
    }
    output[i] = sum / envelope;
}
