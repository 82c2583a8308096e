// Shared workgroup FFT: a mixed radix-8/4/2 Stockham transform held in
// registers, with workgroup memory used only to exchange values between passes.
//
// This file is not a shader on its own. The host prepends a constant block
// (src/gpu/fft.rs, `FftPlan::wgsl_constants`) and appends a kernel file that
//   * defines `fn fft_source(frame: u32, n: u32) -> vec2<f32>` returning element n
//     of the workgroup's local frame `frame` (the transform input),
//   * calls `fft_run(tid, order)` from uniform control flow.
//
// Constants from the host (keep in sync with FftPlan::wgsl_constants):
//   FFT_M            complex transform length, a power of two >= 8
//   FFT_LOG2_M       log2(FFT_M)
//   FFT_FRAMES       transforms per workgroup
//   FFT_THREADS      invocations per workgroup
//   FFT_SLOTS        values each invocation holds (FFT_FRAMES * FFT_M / FFT_THREADS, a multiple of 8)
//   FFT_PASSES       number of radix passes (at least 2)
//   FFT_FIRST_LOG2R  log2 of the radix of the first pass (1, 2 or 3)
//   FFT_LAST_LOG2R   log2 of the radix of the last pass (2 or 3); passes between are radix 8
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
// is what every device pays for, CPU rasterisers most of all. Only w is
// computed; its powers are products (a few ulps, far below the 1e-5 the tests
// demand).
//
// The last pass leaves its outputs in registers: slot s holds element
// `fft_out_pos(FFT_PASSES - 1, s, tid, order)`. With order REAL_PAIRS the last
// pass gives each invocation butterflies k and M/r - k of a frame, so that
// Z[q] and Z[M - q] (what unpacking a real transform needs) sit in the same
// invocation and no final exchange is needed (see `fft_pair_butterflies`).
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

// exp(-2 pi i q / 2^log2n) for 0 <= q < 2^log2n, to about 1 ulp: q is reduced
// to an angle x in [0, pi/4] by exact integer octant symmetry, then sin and cos
// of x come from their Taylor series (truncation error < 2e-9 there).
fn unit_root(q: u32, log2n: u32) -> vec2<f32> {
    let n = 1u << log2n;
    let quarter = max(n >> 2u, 1u);
    let quadrant = (q * 4u) >> log2n; // q / (n/4), exact for n >= 4
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
    if (log2n < 2u) {
        // n = 1 or 2: the quadrant arithmetic above does not apply.
        cs = select(vec2<f32>(1.0, 0.0), vec2<f32>(-1.0, 0.0), q == 1u && n == 2u);
    } else if (quadrant == 1u) {
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
    return select(3u, FFT_LAST_LOG2R, pass_index == FFT_PASSES - 1u);
}

// log2 of the length of the sub-transforms already done before `pass_index`.
fn fft_span_log2(pass_index: u32) -> u32 {
    return select(FFT_FIRST_LOG2R + 3u * (pass_index - 1u), 0u, pass_index == 0u);
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
    let j = slot & ((1u << lr) - 1u);
    return ((b >> lf) << FFT_LOG2_M) + ((i - k) << lr) + k + (j << lp);
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
fn fft_pass_twiddle(pass_index: u32, g: u32, tid: u32, order: u32) -> vec2<f32> {
    let lp = fft_span_log2(pass_index);
    let k = fft_butterfly(pass_index, g, tid, order) & ((1u << lp) - 1u);
    return fft_twiddle(k << (FFT_LOG2_M - fft_radix_log2(pass_index) - lp));
}

fn fft_radix2_pass(pass_index: u32, tid: u32, order: u32) {
    for (var s = 0u; s < FFT_SLOTS / 2u; s++) {
        let o = 2u * s;
        let a0 = fft_v[o];
        let a1 = cmul(fft_v[o + 1u], fft_pass_twiddle(pass_index, s, tid, order));
        fft_v[o] = a0 + a1;
        fft_v[o + 1u] = a0 - a1;
    }
}

fn fft_radix4_pass(pass_index: u32, tid: u32, order: u32) {
    for (var s = 0u; s < FFT_SLOTS / 4u; s++) {
        let o = 4u * s;
        let w1 = fft_pass_twiddle(pass_index, s, tid, order);
        let w2 = cmul(w1, w1);
        let a0 = fft_v[o];
        let a1 = cmul(fft_v[o + 1u], w1);
        let a2 = cmul(fft_v[o + 2u], w2);
        let a3 = cmul(fft_v[o + 3u], cmul(w2, w1));
        let t0 = a0 + a2;
        let t1 = a0 - a2;
        let t2 = a1 + a3;
        let t3 = mul_neg_i(a1 - a3);
        fft_v[o] = t0 + t2;
        fft_v[o + 1u] = t1 + t3;
        fft_v[o + 2u] = t0 - t2;
        fft_v[o + 3u] = t1 - t3;
    }
}

fn fft_radix8_pass(pass_index: u32, tid: u32, order: u32) {
    let r = 0.70710678118654752; // 1 / sqrt(2)
    for (var s = 0u; s < FFT_SLOTS / 8u; s++) {
        let o = 8u * s;
        let w1 = fft_pass_twiddle(pass_index, s, tid, order);
        let w2 = cmul(w1, w1);
        let w3 = cmul(w2, w1);
        let w4 = cmul(w2, w2);
        let a0 = fft_v[o];
        let a1 = cmul(fft_v[o + 1u], w1);
        let a2 = cmul(fft_v[o + 2u], w2);
        let a3 = cmul(fft_v[o + 3u], w3);
        let a4 = cmul(fft_v[o + 4u], w4);
        let a5 = cmul(fft_v[o + 5u], cmul(w4, w1));
        let a6 = cmul(fft_v[o + 6u], cmul(w3, w3));
        let a7 = cmul(fft_v[o + 7u], cmul(w4, w3));
        // Radix-4 transforms of the even and odd inputs ...
        let e0 = a0 + a4;
        let e1 = a0 - a4;
        let e2 = a2 + a6;
        let e3 = mul_neg_i(a2 - a6);
        let d0 = a1 + a5;
        let d1 = a1 - a5;
        let d2 = a3 + a7;
        let d3 = mul_neg_i(a3 - a7);
        let even0 = e0 + e2;
        let even1 = e1 + e3;
        let even2 = e0 - e2;
        let even3 = e1 - e3;
        let odd0 = d0 + d2;
        let q1 = d1 + d3;
        let odd2 = mul_neg_i(d0 - d2);
        let q3 = d1 - d3;
        // ... combined with exp(-2 pi i k / 8) on the odd half.
        let odd1 = r * vec2<f32>(q1.x + q1.y, q1.y - q1.x);
        let odd3 = r * vec2<f32>(q3.y - q3.x, -q3.x - q3.y);
        fft_v[o] = even0 + odd0;
        fft_v[o + 1u] = even1 + odd1;
        fft_v[o + 2u] = even2 + odd2;
        fft_v[o + 3u] = even3 + odd3;
        fft_v[o + 4u] = even0 - odd0;
        fft_v[o + 5u] = even1 - odd1;
        fft_v[o + 6u] = even2 - odd2;
        fft_v[o + 7u] = even3 - odd3;
    }
}

// One pass of radix 2^log2r. Called with constant `log2r` only, so the switch
// folds away: CPU rasterisers run every side of a branch they cannot prove uniform.
fn fft_pass(pass_index: u32, log2r: u32, tid: u32, order: u32) {
    switch log2r {
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
        fft_radix8_pass(pass_index, tid, order);
        fft_exchange(pass_index, tid, order);
    }
    fft_pass(FFT_PASSES - 1u, FFT_LAST_LOG2R, tid, order);
}
