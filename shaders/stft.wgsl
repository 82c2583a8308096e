// Batched short-time Fourier transform of real signals, one frame per FFT.
// Prefixed by the FFT constant block, shaders/fft.wgsl and shaders/fft_real.wgsl.
//
// Framing follows torch.stft(center=True, pad_mode="reflect", onesided=True):
// frame f of a signal of length L covers samples f*hop - N/2 .. f*hop + N/2 - 1,
// reflected at both ends (x[-t] = x[t], x[L-1+t] = x[L-1-t]).
// Each real frame of N = 2 FFT_M samples is transformed by the shared real
// FFT (fft_real.wgsl) into its N/2 + 1 one-sided bins.
//
// A dispatch covers a block of `signals` signals x `frames` frames (starting
// at signal `first_signal`, frame `first_frame`); each workgroup takes
// FFT_FRAMES frames of one signal, so a frame's origin needs no division.

// The host's constant block picks the output at compile time:
//   alias Bin = vec2<f32>;
//   fn store_bin(i: u32, k: u32, x: vec2<f32>) { spectra[i] = bin_complex(x); }
// (or f32 with bin_magnitude / bin_power / bin_db), so each pipeline holds only
// its own store path and complex bins are stored as one 8-byte value. i is the
// bin's index in `spectra`, k its frequency. The STFT loss
// (shaders/stft_loss.wgsl, appended to this file) defines its own store_bin.

// Keep in sync with StftParams in src/stft/gpu.rs.
struct StftParams {
    signal_len: u32,
    // the block: signals first_signal.. first_signal + signals, frames first_frame.. first_frame + frames
    first_signal: u32,
    signals: u32,
    first_frame: u32,
    frames: u32,
    groups_per_signal: u32,
    hop: u32,
    groups_x: u32,
    // Window w[t] = a0 - a1 cos(2 pi t / N) + a2 cos(4 pi t / N), as (a0, a1, a2, 0).
    window: vec4<f32>,
}

@group(0) @binding(0) var<storage, read> signals: array<f32>;
@group(0) @binding(1) var<storage, read_write> spectra: array<Bin>;
@group(0) @binding(2) var<uniform> params: StftParams;

// The workgroup's signal (within the block) and first frame (within the block).
var<private> group_signal: u32;
var<private> group_first_frame: u32;

fn reflect_index(t: i32, len: i32) -> i32 {
    var u = abs(t);
    if (u >= len) {
        u = 2 * (len - 1) - u;
    }
    return u;
}

fn fft_source(frame: u32, n: u32) -> vec2<f32> {
    let f = min(group_first_frame + frame, params.frames - 1u); // see fft_source in fft.wgsl
    let len = i32(params.signal_len);
    let base = i32((params.first_signal + group_signal) * params.signal_len);
    let t = i32((params.first_frame + f) * params.hop) - i32(FFT_M) + 2 * i32(n);
    let x = vec2<f32>(signals[base + reflect_index(t, len)], signals[base + reflect_index(t + 1, len)]);
    return x * vec2<f32>(window_at(2u * n), window_at(2u * n + 1u));
}

// The cosine-sum window at sample t of N = 2 FFT_M, computed rather than read.
fn window_at(t: u32) -> f32 {
    let c = unit_root(t, FFT_LOG2_M + 1u).x;
    let w = params.window;
    return w.x - w.y * c + w.z * (2.0 * c * c - 1.0);
}

fn log10(x: f32) -> f32 {
    return log2(x) * 0.30102999566398120;
}

fn bin_complex(x: vec2<f32>) -> vec2<f32> {
    return x;
}

fn bin_magnitude(x: vec2<f32>) -> f32 {
    return sqrt(dot(x, x));
}

fn bin_power(x: vec2<f32>) -> f32 {
    return dot(x, x);
}

// 10 log10(max(|x|^2, 1e-10)), as librosa.power_to_db without a reference.
fn bin_db(x: vec2<f32>) -> f32 {
    return 10.0 * log10(max(dot(x, x), 1e-10));
}

fn fft_store_bin(frame: u32, k: u32, x: vec2<f32>) {
    let i = ((group_signal * params.frames) + group_first_frame + frame) * (FFT_M + 1u) + k;
    store_bin(i, k, x);
}

fn fft_frame_valid(frame: u32) -> bool {
    return group_first_frame + frame < params.frames;
}

// Points the workgroup at its signal and frames; false, for the whole
// workgroup alike, when `group` is past the last signal.
fn begin_group(group: u32) -> bool {
    let signal = group / params.groups_per_signal;
    if (signal >= params.signals) {
        return false;
    }
    group_signal = signal;
    group_first_frame = (group % params.groups_per_signal) * FFT_FRAMES;
    return true;
}

fn workgroup_index(wg: vec3<u32>) -> u32 {
    return wg.x + wg.y * params.groups_x;
}

@compute @workgroup_size(FFT_THREADS)
fn main(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
    // Uniform exit: the group is the same for the whole workgroup.
    if (!begin_group(workgroup_index(wg))) {
        return;
    }
    fft_forward_real(tid);
}
