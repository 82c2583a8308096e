// Uniformly partitioned overlap-save convolution (UPOLS), three entry points
// recorded one after another in one submission. Prefixed by the FFT constant
// block, shaders/fft.wgsl, shaders/fft_real.wgsl and a one-line fft_source
// from the host that returns window_pair (for `spectra`) or acc_pair (for
// `inverse`): each pipeline then reaches only the buffers its stage binds.
//
// The block B is FFT_M, transforms are N = 2B points, outputs come B at a time.
//   spectra:    bins[s][j] = rfft of window_s[j*hop + n] for n < take, zero
//               past `take` (input blocks: take = 2B, the block and the one
//               before it; kernel partitions: take = B, zero-padded).
//   accumulate: acc[s][j] = sum over p < P of bins[s][j - p] * kernel_bins[k(s)][p]
//               (the frequency-domain delay line), where X index j - p counts
//               from the chunk's first input block.
//   inverse:    output[s][j*B + n] = irfft(acc[s][j])[B + n], n < B: the half
//               without circular wrap-around.

// Keep in sync with ConvParams in src/conv/gpu.rs (sizes checked by a test).
struct ConvParams {
    // spectra: samples per source window, frames per source, hop, samples taken
    window_len: u32,
    frames: u32,
    hop: u32,
    take: u32,
    // accumulate / inverse: partitions, output blocks per signal in this chunk,
    // and where the chunk's first output block sits among its input blocks
    partitions: u32,
    out_blocks: u32,
    first_out_in_x: u32,
    // frames of bins per signal, and the kernel stride in partitions (0: one
    // kernel shared by every signal, P: one kernel per signal)
    x_frames: u32,
    kernel_stride: u32,
    groups_per_source: u32,
    groups_x: u32,
    sources: u32,
}

@group(0) @binding(0) var<storage, read> samples: array<f32>;
@group(0) @binding(1) var<storage, read_write> bins: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read> kernel_bins: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read_write> acc: array<vec2<f32>>;
@group(0) @binding(4) var<storage, read_write> output: array<f32>;
@group(0) @binding(5) var<uniform> params: ConvParams;

const BINS: u32 = FFT_M + 1u;

var<private> group_source: u32;
var<private> group_first_frame: u32;

// Samples 2n and 2n + 1 of a forward frame.
fn window_pair(frame: u32, n: u32) -> vec2<f32> {
    let j = min(group_first_frame + frame, params.frames - 1u); // see fft_source in fft.wgsl
    let base = group_source * params.window_len + j * params.hop;
    let t = 2u * n;
    let even = select(0.0, samples[base + t], t < params.take);
    let odd = select(0.0, samples[base + t + 1u], t + 1u < params.take);
    return vec2<f32>(even, odd);
}

// Element n of an inverse frame's packed input, from the accumulated bins.
fn acc_pair(frame: u32, n: u32) -> vec2<f32> {
    let j = min(group_first_frame + frame, params.out_blocks - 1u); // see fft_source in fft.wgsl
    let row = (group_source * params.out_blocks + j) * BINS;
    return fft_inverse_input(n, acc[row + n], acc[row + FFT_M - n]);
}

fn fft_store_bin(frame: u32, k: u32, x: vec2<f32>) {
    bins[(group_source * params.frames + group_first_frame + frame) * BINS + k] = x;
}

fn fft_frame_valid(frame: u32) -> bool {
    return group_first_frame + frame < params.frames;
}

// Sets the workgroup's source and first frame; false past the last source
// (the same for the whole workgroup, so callers may return uniformly).
fn locate_group(wg: vec3<u32>) -> bool {
    let group = wg.x + wg.y * params.groups_x;
    group_source = group / params.groups_per_source;
    group_first_frame = (group % params.groups_per_source) * FFT_FRAMES;
    return group_source < params.sources;
}

@compute @workgroup_size(FFT_THREADS)
fn spectra(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
    if (!locate_group(wg)) {
        return;
    }
    fft_forward_real(tid);
}

// One invocation per (bin, output block, signal): the complex multiply-
// accumulate over the partitions, in a fixed order so results do not depend
// on how the output was split into chunks.
@compute @workgroup_size(64)
fn accumulate(@builtin(global_invocation_id) gid: vec3<u32>) {
    let k = gid.x;
    let j = gid.y;
    let s = gid.z;
    if (k >= BINS || j >= params.out_blocks) {
        return;
    }
    let x_block = params.first_out_in_x + j; // this output block's own input block
    let kernel = s * params.kernel_stride;
    var sum = vec2<f32>(0.0);
    let count = min(params.partitions, x_block + 1u);
    for (var p = 0u; p < count; p++) {
        let x = bins[(s * params.x_frames + x_block - p) * BINS + k];
        let h = kernel_bins[(kernel + p) * BINS + k];
        sum += cmul(x, h);
    }
    acc[(s * params.out_blocks + j) * BINS + k] = sum;
}

@compute @workgroup_size(FFT_THREADS)
fn inverse(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
    if (!locate_group(wg)) {
        return;
    }
    fft_run(tid, FFT_LAYOUT_NATURAL);
    for (var s = 0u; s < FFT_SLOTS; s++) {
        let e = fft_inverse_element(s, tid);
        let j = group_first_frame + (e >> FFT_LOG2_M);
        let n = e & (FFT_M - 1u);
        // Samples 2n, 2n + 1 of the 2B-point block; keep the second half.
        if (j < params.out_blocks && 2u * n >= FFT_M) {
            let x = fft_inverse_samples(s);
            let o = (group_source * params.out_blocks + j) * FFT_M + 2u * n - FFT_M;
            output[o] = x.x;
            output[o + 1u] = x.y;
        }
    }
}
