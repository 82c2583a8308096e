// Batched short-time Fourier transform of real signals, one frame per FFT.
// Prefixed by the FFT constant block and shaders/fft.wgsl (see there).
//
// Framing follows torch.stft(center=True, pad_mode="reflect", onesided=True):
// frame f of a signal of length L covers samples f*hop - N/2 .. f*hop + N/2 - 1,
// reflected at both ends (x[-t] = x[t], x[L-1+t] = x[L-1-t]).
// A real frame of N = 2 FFT_M samples is packed as z[n] = x[2n] + i x[2n+1],
// transformed at length FFT_M and unpacked into the N/2 + 1 one-sided bins.

// Keep in sync with StftParams in src/stft/gpu.rs.
struct StftParams {
    signal_len: u32,
    frames_per_signal: u32,
    // first global frame of this dispatch and how many frames it covers
    first_frame: u32,
    frame_count: u32,
    hop: u32,
    format: u32,
    groups_x: u32,
    _pad: u32,
}

const FORMAT_COMPLEX: u32 = 0u;
const FORMAT_MAGNITUDE: u32 = 1u;
const FORMAT_POWER: u32 = 2u;
const FORMAT_DB: u32 = 3u;

@group(0) @binding(0) var<storage, read> fft_twiddles: array<vec2<f32>>;
@group(0) @binding(1) var<storage, read> window: array<f32>;
@group(0) @binding(2) var<storage, read> signals: array<f32>;
@group(0) @binding(3) var<storage, read_write> spectra: array<f32>;
@group(0) @binding(4) var<uniform> params: StftParams;

// First frame (relative to params.first_frame) handled by this workgroup.
var<private> group_first_frame: u32;
// Per frame of the workgroup: index in `signals` of the frame's first padded
// sample (may lie before the signal) and of the signal's first sample, worked
// out once so the per-sample path has no integer division.
var<workgroup> frame_origin: array<vec2<i32>, FFT_FRAMES>;

fn reflect_index(t: i32, len: i32) -> i32 {
    var u = abs(t);
    if (u >= len) {
        u = 2 * (len - 1) - u;
    }
    return u;
}

fn set_frame_origins(tid: u32) {
    if (tid < FFT_FRAMES) {
        let global = params.first_frame + group_first_frame + tid;
        let signal = global / params.frames_per_signal;
        let f = global % params.frames_per_signal;
        frame_origin[tid] = vec2<i32>(i32(f * params.hop) - i32(FFT_M), i32(signal * params.signal_len));
    }
}

fn fft_source(frame: u32, n: u32) -> vec2<f32> {
    if (group_first_frame + frame >= params.frame_count) {
        return vec2<f32>(0.0);
    }
    let origin = frame_origin[frame];
    let len = i32(params.signal_len);
    let t = origin.x + 2 * i32(n);
    let even = signals[origin.y + reflect_index(t, len)] * window[2u * n];
    let odd = signals[origin.y + reflect_index(t + 1, len)] * window[2u * n + 1u];
    return vec2<f32>(even, odd);
}

fn store_bin(local_frame: u32, k: u32, x: vec2<f32>) {
    let i = local_frame * (FFT_M + 1u) + k;
    let power = dot(x, x);
    switch params.format {
        case FORMAT_COMPLEX: {
            spectra[2u * i] = x.x;
            spectra[2u * i + 1u] = x.y;
        }
        case FORMAT_MAGNITUDE: {
            spectra[i] = sqrt(power);
        }
        case FORMAT_POWER: {
            spectra[i] = power;
        }
        default: {
            spectra[i] = 10.0 * log10(max(power, 1e-10));
        }
    }
}

fn log10(x: f32) -> f32 {
    return log2(x) * 0.30102999566398120;
}

// Unpacks one (Z[q], Z[M-q]) pair of a packed real transform into bins q and M-q
// (pair 0 carries Z[0] and Z[M/2] and yields bins 0, M and M/2).
fn unpack_pair(slot_pair: u32, tid: u32) {
    let half_m = FFT_M / 2u;
    let pair = tid + slot_pair * FFT_THREADS;
    let frame = pair / half_m;
    let q = pair % half_m;
    if (group_first_frame + frame >= params.frame_count) {
        return;
    }
    let local_frame = group_first_frame + frame;
    let z1 = fft_v[2u * slot_pair];
    let z2 = fft_v[2u * slot_pair + 1u];
    if (q == 0u) {
        store_bin(local_frame, 0u, vec2<f32>(z1.x + z1.y, 0.0));
        store_bin(local_frame, FFT_M, vec2<f32>(z1.x - z1.y, 0.0));
        store_bin(local_frame, half_m, conj(z2));
        return;
    }
    let even = 0.5 * (z1 + conj(z2));
    let d = 0.5 * (z1 - conj(z2));
    let odd = vec2<f32>(d.y, -d.x); // d / i
    let w_odd = cmul(fft_twiddles[q], odd);
    store_bin(local_frame, q, even + w_odd);
    store_bin(local_frame, FFT_M - q, conj(even - w_odd));
}

@compute @workgroup_size(FFT_THREADS)
fn main(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
    let first = (wg.x + wg.y * params.groups_x) * FFT_FRAMES;
    // `first` is the same for the whole workgroup, so this exit is uniform.
    if (first >= params.frame_count) {
        return;
    }
    group_first_frame = first;
    set_frame_origins(tid);
    workgroupBarrier();
    fft_run(tid, FFT_LAYOUT_REAL_PAIRS);
    for (var s = 0u; s < FFT_SLOTS / 2u; s++) {
        unpack_pair(s, tid);
    }
}
