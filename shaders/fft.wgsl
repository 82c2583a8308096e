// Shared workgroup FFT: a mixed radix-32/16/8/4/2 Stockham transform held in
// registers, with workgroup memory used only to exchange values between passes.
//
// This file is not a shader on its own. The host prepends a constant block
// (src/gpu/fft.rs, `FftPlan::wgsl_constants`) and appends a kernel file that
//   * defines `fn fft_source(frame: u32, n: u32) -> vec2<f32>` returning element n
//     of the workgroup's local frame `frame` (the transform input). Frames
//     past the end of the data are transformed but never stored; fft_source
//     reads the last real frame for them (clamps the index) rather than
//     branching: on CPU rasterisers a branch on the frame masks every load
//     after it, and lavapipe's STFT ran 10-30 % slower for it,
//   * calls `fft_run(tid, order)` from uniform control flow.
//
// Constants from the host (keep in sync with FftPlan::wgsl_constants):
//   FFT_M            complex transform length, a power of two >= 8
//   FFT_LOG2_M       log2(FFT_M)
//   FFT_FRAMES       transforms per workgroup
//   FFT_THREADS      invocations per workgroup
//   FFT_SLOTS        values each invocation holds (FFT_FRAMES * FFT_M / FFT_THREADS,
//                    a multiple of twice the last radix)
//   FFT_PASSES       number of radix passes (at least 2)
//   FFT_FIRST_LOG2R  log2 of the radix of the first pass (1 to 5)
//   FFT_LAST_LOG2R   log2 of the radix of the last pass (2 to 5); passes between are radix 16
//   FFT_SH_PAIRS     length of the complex exchange array (1 when FFT_SPLIT)
//   FFT_SH_HALVES    length of the real exchange array (1 unless FFT_SPLIT)
//   FFT_SPLIT        true when workgroup memory cannot hold FFT_FRAMES * FFT_M complex values:
//                    real and imaginary parts are then exchanged in two rounds
//
// Index scheme (Bainville's Stockham formulation): in a pass of radix r after
// sub-transforms of length p, butterfly i of a frame reads elements i + j M/r and
// writes (i - i mod p) r + i mod p + j p, after twiddling input j by
// w^j, w = exp(-2 pi i (i mod p) / (p r)). Twiddles are computed, not read
// from a table (`unit_root`): arithmetic is cheap everywhere and memory traffic
// is what every device pays for, CPU rasterisers most of all. Powers of w are
// products, re-anchored on an exact root every 8 (a few ulps, far below the
// 1e-5 the tests demand).
//
// The last pass leaves its outputs in registers: slot s holds element
// `fft_out_pos(FFT_PASSES - 1, s, tid, order)`. With order REAL_PAIRS the last
// pass gives each invocation butterflies k and M/r - k of a frame, so that
// Z[q] and Z[M - q] (what unpacking a real transform needs) sit in the same
// invocation and no final exchange is needed (see `fft_butterfly`).
//
// Invariants: `fft_exchange` holds every barrier and is reached from uniform
// control flow only (loops with constant or uniform bounds).

const FFT_LAYOUT_NATURAL: u32 = 0u;
const FFT_LAYOUT_REAL_PAIRS: u32 = 1u;

var<workgroup> fft_sh_pairs: array<vec2<f32>, FFT_SH_PAIRS>;
var<workgroup> fft_sh_halves: array<f32, FFT_SH_HALVES>;
var<private> fft_v: array<vec2<f32>, FFT_SLOTS>;

fn cmul(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
    return vec2<f32>(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x);
}

fn conj(a: vec2<f32>) -> vec2<f32> {
    return vec2<f32>(a.x, -a.y);
}

// a * -i
fn mul_neg_i(a: vec2<f32>) -> vec2<f32> {
    return vec2<f32>(a.y, -a.x);
}

// exp(-2 pi i q / 2^log2n) for 0 <= q < 2^log2n and log2n >= 2, to about
// 1 ulp: q is reduced to an angle x in [0, pi/4] by exact integer octant
// symmetry, then sin and cos of x come from their Taylor series (truncation
// error < 2e-9 there).
fn unit_root(q: u32, log2n: u32) -> vec2<f32> {
    let n = 1u << log2n;
    let quarter = n >> 2u;
    let quadrant = (q * 4u) >> log2n; // q / (n/4)
    let r = q - quadrant * quarter;
    let flip = 2u * r > quarter; // past the octant: use the complementary angle
    let x = f32(select(r, quarter - r, flip)) * (6.283185307179586 / f32(n));
    let x2 = x * x;
    let sin_x = x * (1.0 + x2 * (-1.0 / 6.0 + x2 * (1.0 / 120.0 + x2 * (-1.0 / 5040.0 + x2 * (1.0 / 362880.0)))));
    let cos_x = 1.0 + x2 * (-0.5 + x2 * (1.0 / 24.0 + x2 * (-1.0 / 720.0 + x2 * (1.0 / 40320.0 + x2 * (-1.0 / 3628800.0)))));
    // (cos, sin) of the angle within its quadrant, then rotated by quadrant * pi/2.
    let c = select(cos_x, sin_x, flip);
    let s = select(sin_x, cos_x, flip);
    var cs = vec2<f32>(c, s);
    if (quadrant == 1u) {
        cs = vec2<f32>(-s, c);
    } else if (quadrant == 2u) {
        cs = vec2<f32>(-c, -s);
    } else if (quadrant == 3u) {
        cs = vec2<f32>(s, -c);
    }
    return vec2<f32>(cs.x, -cs.y);
}

// exp(-2 pi i q / FFT_M)
fn fft_twiddle(q: u32) -> vec2<f32> {
    return unit_root(q, FFT_LOG2_M);
}

// log2 of the radix of `pass_index`.
fn fft_radix_log2(pass_index: u32) -> u32 {
    if (pass_index == 0u) {
        return FFT_FIRST_LOG2R;
    }
    return select(4u, FFT_LAST_LOG2R, pass_index == FFT_PASSES - 1u);
}

// log2 of the length of the sub-transforms already done before `pass_index`.
fn fft_span_log2(pass_index: u32) -> u32 {
    return select(FFT_FIRST_LOG2R + 4u * (pass_index - 1u), 0u, pass_index == 0u);
}

// Every size is a power of two, so indices use shifts and masks: integer
// division is slow on GPUs and scalarised on CPU rasterisers such as lavapipe.

// Butterfly (frame * M/r + i) that slot group `g` of invocation `tid` computes
// in `pass_index`. Normally butterflies tid + g * FFT_THREADS; in the last pass
// of a REAL_PAIRS transform, groups 2h and 2h + 1 take butterflies k and M/r - k
// of one frame (k = 0 goes with M/2r: both are their own partners).
fn fft_butterfly(pass_index: u32, g: u32, tid: u32, order: u32) -> u32 {
    if (order != FFT_LAYOUT_REAL_PAIRS || pass_index != FFT_PASSES - 1u) {
        return tid + g * FFT_THREADS;
    }
    let lf = FFT_LOG2_M - FFT_LAST_LOG2R; // log2 of butterflies per frame
    let pair = tid + (g >> 1u) * FFT_THREADS;
    let frame = pair >> (lf - 1u);
    let u = pair & ((1u << (lf - 1u)) - 1u);
    let second = (g & 1u) == 1u;
    var k = select(u, (1u << lf) - u, second);
    if (u == 0u) {
        k = select(0u, 1u << (lf - 1u), second);
    }
    return (frame << lf) + k;
}

// Element read by `slot` of invocation `tid` at the start of `pass_index`.
fn fft_in_pos(pass_index: u32, slot: u32, tid: u32, order: u32) -> u32 {
    let lr = fft_radix_log2(pass_index);
    let lf = FFT_LOG2_M - lr;
    let b = fft_butterfly(pass_index, slot >> lr, tid, order);
    let j = slot & ((1u << lr) - 1u);
    return ((b >> lf) << FFT_LOG2_M) + (b & ((1u << lf) - 1u)) + (j << lf);
}

// Element written by `slot` of invocation `tid` at the end of `pass_index`.
fn fft_out_pos(pass_index: u32, slot: u32, tid: u32, order: u32) -> u32 {
    let lr = fft_radix_log2(pass_index);
    let lp = fft_span_log2(pass_index);
    let lf = FFT_LOG2_M - lr;
    let b = fft_butterfly(pass_index, slot >> lr, tid, order);
    let i = b & ((1u << lf) - 1u);
    let k = i & ((1u << lp) - 1u);
    let j = fft_output_index(lr, slot & ((1u << lr) - 1u));
    return ((b >> lf) << FFT_LOG2_M) + ((i - k) << lr) + k + (j << lp);
}

// Which butterfly output a slot holds after a pass of radix 2^lr: the slot
// itself, except for radix 32 (see fft_radix32_pass).
fn fft_output_index(lr: u32, slot: u32) -> u32 {
    return select(slot, (slot >> 1u) + 16u * (slot & 1u), lr == 5u);
}

// The inverse: the slot holding butterfly output j.
fn fft_output_slot(lr: u32, j: u32) -> u32 {
    return select(j, 2u * (j & 15u) + (j >> 4u), lr == 5u);
}

fn fft_sh_store(i: u32, value: vec2<f32>, round: u32) {
    if (FFT_SPLIT) {
        fft_sh_halves[i] = select(value.x, value.y, round == 1u);
    } else {
        fft_sh_pairs[i] = value;
    }
}

fn fft_sh_load(i: u32, old: vec2<f32>, round: u32) -> vec2<f32> {
    if (FFT_SPLIT) {
        if (round == 0u) {
            return vec2<f32>(fft_sh_halves[i], old.y);
        }
        return vec2<f32>(old.x, fft_sh_halves[i]);
    }
    return fft_sh_pairs[i];
}

// Moves every value from where pass `done_pass` put it to where the next pass
// reads it. Called from uniform control flow only: it holds the barriers.
fn fft_exchange(done_pass: u32, tid: u32, order: u32) {
    let rounds = select(1u, 2u, FFT_SPLIT);
    for (var round = 0u; round < rounds; round++) {
        for (var s = 0u; s < FFT_SLOTS; s++) {
            fft_sh_store(fft_out_pos(done_pass, s, tid, order), fft_v[s], round);
        }
        workgroupBarrier();
        for (var s = 0u; s < FFT_SLOTS; s++) {
            fft_v[s] = fft_sh_load(fft_in_pos(done_pass + 1u, s, tid, order), fft_v[s], round);
        }
        workgroupBarrier();
    }
}

// Twiddle base of the butterfly in slot group `g` of a pass: w for i mod p.
// Returned as the index q of w = exp(-2 pi i q / M).
fn fft_pass_twiddle(pass_index: u32, g: u32, tid: u32, order: u32) -> u32 {
    let lp = fft_span_log2(pass_index);
    let k = fft_butterfly(pass_index, g, tid, order) & ((1u << lp) - 1u);
    return k << (FFT_LOG2_M - fft_radix_log2(pass_index) - lp);
}

fn fft_radix2_pass(pass_index: u32, tid: u32, order: u32) {
    for (var s = 0u; s < FFT_SLOTS / 2u; s++) {
        let o = 2u * s;
        fft_twiddle_inputs(pass_index, o, 2u, fft_pass_twiddle(pass_index, s, tid, order));
        let a0 = fft_v[o];
        let a1 = fft_v[o + 1u];
        fft_v[o] = a0 + a1;
        fft_v[o + 1u] = a0 - a1;
    }
}

fn fft_radix4_pass(pass_index: u32, tid: u32, order: u32) {
    for (var g = 0u; g < FFT_SLOTS / 4u; g++) {
        let o = 4u * g;
        fft_twiddle_inputs(pass_index, o, 4u, fft_pass_twiddle(pass_index, g, tid, order));
        fft_store4(o, 1u, dft4(fft_v[o], fft_v[o + 1u], fft_v[o + 2u], fft_v[o + 3u]));
    }
}

// 4-point DFT (forward).
fn dft4(a0: vec2<f32>, a1: vec2<f32>, a2: vec2<f32>, a3: vec2<f32>) -> array<vec2<f32>, 4> {
    let t0 = a0 + a2;
    let t1 = a0 - a2;
    let t2 = a1 + a3;
    let t3 = mul_neg_i(a1 - a3);
    return array<vec2<f32>, 4>(t0 + t2, t1 + t3, t0 - t2, t1 - t3);
}

// exp(-2 pi i / 8) * a and exp(-6 pi i / 8) * a.
fn mul_w8(a: vec2<f32>) -> vec2<f32> {
    return 0.70710678118654752 * vec2<f32>(a.x + a.y, a.y - a.x);
}

fn mul_w8_cubed(a: vec2<f32>) -> vec2<f32> {
    return 0.70710678118654752 * vec2<f32>(a.y - a.x, -a.x - a.y);
}

// Twiddles input j of the butterfly at slot offset o by w^j, j in 1..r, with
// w = exp(-2 pi i q / M). Powers are products, re-anchored on an exact root
// every 8 steps so no chain is longer than 7 multiplications. Nothing to do
// in pass 0, where every w is 1 (the check folds away there).
fn fft_twiddle_inputs(pass_index: u32, o: u32, r: u32, q: u32) {
    if (pass_index == 0u) {
        return;
    }
    let w1 = fft_twiddle(q);
    var w = w1;
    for (var j = 1u; j < r; j++) {
        if (j % 8u == 0u) {
            w = fft_twiddle((j * q) & (FFT_M - 1u));
        }
        fft_v[o + j] = cmul(fft_v[o + j], w);
        w = cmul(w, w1);
    }
}

fn fft_radix8_pass(pass_index: u32, tid: u32, order: u32) {
    for (var g = 0u; g < FFT_SLOTS / 8u; g++) {
        let o = 8u * g;
        fft_twiddle_inputs(pass_index, o, 8u, fft_pass_twiddle(pass_index, g, tid, order));
        // Radix-4 transforms of the even and odd inputs, combined with w8^k.
        let e = dft4(fft_v[o], fft_v[o + 2u], fft_v[o + 4u], fft_v[o + 6u]);
        let d = dft4(fft_v[o + 1u], fft_v[o + 3u], fft_v[o + 5u], fft_v[o + 7u]);
        let odd = array<vec2<f32>, 4>(d[0], mul_w8(d[1]), mul_neg_i(d[2]), mul_w8_cubed(d[3]));
        for (var k = 0u; k < 4u; k++) {
            fft_v[o + k] = e[k] + odd[k];
            fft_v[o + k + 4u] = e[k] - odd[k];
        }
    }
}

// exp(-2 pi i m / 16) for the products m = n2 * k1 a 4 x 4 split needs.
const W16_1: vec2<f32> = vec2<f32>(0.92387953251128676, -0.38268343236508977);
const W16_2: vec2<f32> = vec2<f32>(0.70710678118654752, -0.70710678118654752);
const W16_3: vec2<f32> = vec2<f32>(0.38268343236508977, -0.92387953251128676);
const W16_6: vec2<f32> = vec2<f32>(-0.70710678118654752, -0.70710678118654752);
const W16_9: vec2<f32> = vec2<f32>(-0.92387953251128676, 0.38268343236508977);

// Writes y[k2] to slot o + stride * k2.
fn fft_store4(o: u32, stride: u32, y: array<vec2<f32>, 4>) {
    for (var k2 = 0u; k2 < 4u; k2++) {
        fft_v[o + stride * k2] = y[k2];
    }
}

// In-place 16-point DFT of slots o + stride * n, n in 0..16: input n = n2 + 4 n1,
// output k = k1 + 4 k2 lands in slot o + stride * k. DFTs over n1, twiddles
// w16^(n2 k1), DFTs over n2. Straight-line code on purpose: CPU rasterisers
// keep it in registers, where a local array indexed in nested loops may go to memory.
fn fft_dft16(o: u32, stride: u32) {
    let s = stride;
    let t0 = dft4(fft_v[o], fft_v[o + 4u * s], fft_v[o + 8u * s], fft_v[o + 12u * s]);
    let t1 = dft4(fft_v[o + s], fft_v[o + 5u * s], fft_v[o + 9u * s], fft_v[o + 13u * s]);
    let t2 = dft4(fft_v[o + 2u * s], fft_v[o + 6u * s], fft_v[o + 10u * s], fft_v[o + 14u * s]);
    let t3 = dft4(fft_v[o + 3u * s], fft_v[o + 7u * s], fft_v[o + 11u * s], fft_v[o + 15u * s]);
    fft_store4(o, 4u * s, dft4(t0[0], t1[0], t2[0], t3[0]));
    fft_store4(o + s, 4u * s, dft4(t0[1], cmul(t1[1], W16_1), cmul(t2[1], W16_2), cmul(t3[1], W16_3)));
    fft_store4(o + 2u * s, 4u * s, dft4(t0[2], cmul(t1[2], W16_2), mul_neg_i(t2[2]), cmul(t3[2], W16_6)));
    fft_store4(o + 3u * s, 4u * s, dft4(t0[3], cmul(t1[3], W16_3), cmul(t2[3], W16_6), cmul(t3[3], W16_9)));
}

fn fft_radix16_pass(pass_index: u32, tid: u32, order: u32) {
    for (var g = 0u; g < FFT_SLOTS / 16u; g++) {
        let o = 16u * g;
        fft_twiddle_inputs(pass_index, o, 16u, fft_pass_twiddle(pass_index, g, tid, order));
        fft_dft16(o, 1u);
    }
}

// Radix 32: 16-point DFTs of the (twiddled) even and odd slots in place,
// combined as y[k] = E[k] + w32^k O[k] into slot 2k and y[k + 16] = E[k] -
// w32^k O[k] into slot 2k + 1. Outputs thus stay permuted (no spare registers
// to sort them); `fft_output_index` and `fft_output_slot` account for it.
fn fft_radix32_pass(pass_index: u32, tid: u32, order: u32) {
    for (var g = 0u; g < FFT_SLOTS / 32u; g++) {
        let o = 32u * g;
        fft_twiddle_inputs(pass_index, o, 32u, fft_pass_twiddle(pass_index, g, tid, order));
        fft_dft16(o, 2u);
        fft_dft16(o + 1u, 2u);
        for (var k = 0u; k < 16u; k++) {
            let e = fft_v[o + 2u * k];
            let d = cmul(fft_v[o + 2u * k + 1u], unit_root(k, 5u));
            fft_v[o + 2u * k] = e + d;
            fft_v[o + 2u * k + 1u] = e - d;
        }
    }
}

// One pass of radix 2^log2r. Called with constant `log2r` only, so the switch
// folds away: CPU rasterisers run every side of a branch they cannot prove uniform.
fn fft_pass(pass_index: u32, log2r: u32, tid: u32, order: u32) {
    switch log2r {
        case 5u: {
            fft_radix32_pass(pass_index, tid, order);
        }
        case 4u: {
            fft_radix16_pass(pass_index, tid, order);
        }
        case 3u: {
            fft_radix8_pass(pass_index, tid, order);
        }
        case 2u: {
            fft_radix4_pass(pass_index, tid, order);
        }
        default: {
            fft_radix2_pass(pass_index, tid, order);
        }
    }
}

// Forward transform of the workgroup's FFT_FRAMES frames. On return fft_v[s]
// holds element fft_out_pos(FFT_PASSES - 1, s, tid, order) of the spectrum.
fn fft_run(tid: u32, order: u32) {
    for (var s = 0u; s < FFT_SLOTS; s++) {
        let e = fft_in_pos(0u, s, tid, order);
        fft_v[s] = fft_source(e >> FFT_LOG2_M, e & (FFT_M - 1u));
    }
    fft_pass(0u, FFT_FIRST_LOG2R, tid, order);
    fft_exchange(0u, tid, order);
    for (var pass_index = 1u; pass_index + 1u < FFT_PASSES; pass_index++) {
        fft_radix16_pass(pass_index, tid, order);
        fft_exchange(pass_index, tid, order);
    }
    fft_pass(FFT_PASSES - 1u, FFT_LAST_LOG2R, tid, order);
}

// ---- Inverse real transforms (the forward direction is in fft_real.wgsl) ----
//
// fft_source returns fft_inverse_input(k, X[k], X[M - k]); after
// fft_run(tid, FFT_LAYOUT_NATURAL), slot s holds real samples (2n, 2n + 1) of
// frame-local element fft_inverse_element(s, tid) = frame * FFT_M + n.

// What fft_source returns for element k of an inverse real transform, from
// one-sided bins xk = X[k] and xmk = X[M - k]: conj(Z[k]), with Z[k] = E + i O
// the packed spectrum whose inverse is z[n] = x[2n] + i x[2n+1]. Feeding the
// conjugate to the forward FFT and conjugating its output computes the
// inverse. The imaginary parts of DC and Nyquist are dropped, as irfft does.
fn fft_inverse_input(k: u32, xk: vec2<f32>, xmk: vec2<f32>) -> vec2<f32> {
    let a = select(xk, vec2<f32>(xk.x, 0.0), k == 0u);
    let b = conj(select(xmk, vec2<f32>(xmk.x, 0.0), k == 0u));
    let even = 0.5 * (a + b);
    let odd = cmul(0.5 * (a - b), conj(unit_root(k, FFT_LOG2_M + 1u)));
    let z = even + vec2<f32>(-odd.y, odd.x); // even + i odd
    return conj(z);
}

// After an inverse (fft_run with FFT_LAYOUT_NATURAL on fft_inverse_input):
// real samples (x[2n], x[2n + 1]) of slot s, n = element fft_inverse_element(s).
fn fft_inverse_samples(s: u32) -> vec2<f32> {
    return vec2<f32>(fft_v[s].x, -fft_v[s].y) * (1.0 / f32(FFT_M));
}

// Frame-local element (frame * FFT_M + n) that slot s holds after an inverse.
fn fft_inverse_element(s: u32, tid: u32) -> u32 {
    return fft_out_pos(FFT_PASSES - 1u, s, tid, FFT_LAYOUT_NATURAL);
}
