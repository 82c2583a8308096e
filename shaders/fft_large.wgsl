// Batched complex FFTs of N = N1 x N2 points, longer than one workgroup
// holds, by the four-step method on top of shaders/fft.wgsl (prefixed by the
// FFT constant block, FFT_M being this step's length, and fft.wgsl):
//   step `columns` (FFT_M = N1): for every column n2 of every transform b,
//     a[b][k1 * N2 + n2] = W_N^(n2 k1) * sum_n1 x[b][n1 * N2 + n2] W_N1^(n1 k1)
//   step `rows` (FFT_M = N2): for every row k1,
//     X[b][k1 + N1 k2] = sum_n2 a[b][k1 * N2 + n2] W_N2^(n2 k2)
// The inverse conjugates on the way in and out and scales by 1/N. The host's
// constant block says which step this is: `const STEP_COLUMNS: bool = ...;`.
// A frame of the shared FFT is one column (or row) of one transform.

// Keep in sync with LargeFftParams in src/gpu/large_fft.rs (sizes checked by a test).
struct LargeFftParams {
    // log2 of N and of the other dimension (N2 for columns, N1 for rows)
    log2_n: u32,
    log2_other: u32,
    // frames (columns or rows, all transforms) in this dispatch
    frames: u32,
    inverse: u32,
    groups_x: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<storage, read> src: array<vec2<f32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec2<f32>>;
@group(0) @binding(2) var<uniform> params: LargeFftParams;

var<private> group_first_frame: u32;

// Index in `src` of element n of frame g: strided for columns (element n1
// of column n2), contiguous for rows (element n2 of row k1).
fn source_index(g: u32, n: u32) -> u32 {
    let transform = g >> params.log2_other;
    let line = g & ((1u << params.log2_other) - 1u);
    let base = transform << params.log2_n;
    if (STEP_COLUMNS) {
        return base + (n << params.log2_other) + line;
    }
    return base + (line << FFT_LOG2_M) + n;
}

fn fft_source(frame: u32, n: u32) -> vec2<f32> {
    let g = min(group_first_frame + frame, params.frames - 1u); // see fft_source in fft.wgsl
    let x = src[source_index(g, n)];
    // The inverse conjugates the input once, on the way into the columns.
    return select(x, conj(x), STEP_COLUMNS && params.inverse == 1u);
}

// Stores bin k of frame g: columns twiddle and store row-major (a[k1][n2]);
// rows store X[k1 + N1 k2] (and undo the inverse's conjugation and scale).
fn store(g: u32, k: u32, value: vec2<f32>) {
    let transform = g >> params.log2_other;
    let line = g & ((1u << params.log2_other) - 1u);
    let base = transform << params.log2_n;
    if (STEP_COLUMNS) {
        // line = n2, k = k1; N = 2^log2_n.
        let q = (line * k) & ((1u << params.log2_n) - 1u);
        dst[base + (k << params.log2_other) + line] = cmul(value, unit_root(q, params.log2_n));
    } else {
        // line = k1, k = k2; N1 = 2^log2_other.
        let scale = select(1.0, 1.0 / f32(1u << params.log2_n), params.inverse == 1u);
        let out = select(value, conj(value), params.inverse == 1u) * scale;
        dst[base + line + (k << params.log2_other)] = out;
    }
}

@compute @workgroup_size(FFT_THREADS)
fn main(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
    let first = (wg.x + wg.y * params.groups_x) * FFT_FRAMES;
    // `first` is the same for the whole workgroup, so this exit is uniform.
    if (first >= params.frames) {
        return;
    }
    group_first_frame = first;
    fft_run(tid, FFT_LAYOUT_NATURAL);
    for (var s = 0u; s < FFT_SLOTS; s++) {
        let e = fft_out_pos(FFT_PASSES - 1u, s, tid, FFT_LAYOUT_NATURAL);
        let g = first + (e >> FFT_LOG2_M);
        if (g < params.frames) {
            store(g, e & (FFT_M - 1u), fft_v[s]);
        }
    }
}
