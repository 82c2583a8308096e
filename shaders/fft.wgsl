// Shared workgroup FFT: a mixed radix-8/4/2 Stockham transform held in
// registers, with workgroup memory used only to exchange values between passes.
//
// This file is not a shader on its own. The host prepends a constant block
// (src/gpu/fft.rs, `FftPlan::wgsl_constants`) and appends a kernel file that
//   * declares `@group(0) @binding(0) var<storage, read> fft_twiddles: array<vec2<f32>>;`
//     holding exp(-2 pi i q / (2 FFT_M)) for q in 0..2 FFT_M (the host builds it in f64),
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
//   FFT_PASSES       number of radix passes
//   FFT_FIRST_LOG2R  log2 of the radix of pass 0 (1, 2 or 3); every later pass is radix 8
//   FFT_SH_PAIRS     length of the complex exchange array (1 when FFT_SPLIT)
//   FFT_SH_HALVES    length of the real exchange array (1 unless FFT_SPLIT)
//   FFT_SPLIT        true when workgroup memory cannot hold FFT_FRAMES * FFT_M complex values:
//                    real and imaginary parts are then exchanged in two rounds
//
// Index scheme (Bainville's Stockham formulation): in a pass of radix r after
// sub-transforms of length p, butterfly i of a frame reads elements i + j M/r and
// writes (i - i mod p) r + i mod p + j p, after twiddling input j by
// w^j, w = exp(-2 pi i (i mod p) / (p r)). Only w is read from the table; its
// powers are products (a few ulps, far below the 1e-5 the tests demand), which
// saves memory traffic where it costs most.
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

// exp(-2 pi i q / FFT_M)
fn fft_twiddle(q: u32) -> vec2<f32> {
    return fft_twiddles[2u * q];
}

// log2 of the radix of `pass_index`.
fn fft_radix_log2(pass_index: u32) -> u32 {
    return select(3u, FFT_FIRST_LOG2R, pass_index == 0u);
}

// log2 of the length of the sub-transforms already done before `pass_index`.
fn fft_span_log2(pass_index: u32) -> u32 {
    return select(FFT_FIRST_LOG2R + 3u * (pass_index - 1u), 0u, pass_index == 0u);
}

// Every size is a power of two, so indices use shifts and masks: integer
// division is slow on GPUs and scalarised on CPU rasterisers such as lavapipe.

// Element read by `slot` of invocation `tid` at the start of `pass_index`.
fn fft_in_pos(pass_index: u32, slot: u32, tid: u32) -> u32 {
    let lr = fft_radix_log2(pass_index);
    let lf = FFT_LOG2_M - lr; // log2 of butterflies per frame
    let b = tid + (slot >> lr) * FFT_THREADS;
    let j = slot & ((1u << lr) - 1u);
    return ((b >> lf) << FFT_LOG2_M) + (b & ((1u << lf) - 1u)) + (j << lf);
}

// Element written by `slot` of invocation `tid` at the end of `pass_index`.
fn fft_out_pos(pass_index: u32, slot: u32, tid: u32) -> u32 {
    let lr = fft_radix_log2(pass_index);
    let lp = fft_span_log2(pass_index);
    let lf = FFT_LOG2_M - lr;
    let b = tid + (slot >> lr) * FFT_THREADS;
    let i = b & ((1u << lf) - 1u);
    let k = i & ((1u << lp) - 1u);
    let j = slot & ((1u << lr) - 1u);
    return ((b >> lf) << FFT_LOG2_M) + ((i - k) << lr) + k + (j << lp);
}

// Element gathered by `slot` once all passes are done.
// NATURAL: element tid + slot * FFT_THREADS (coalesced stores).
// REAL_PAIRS: slot pairs (2s, 2s+1) hold Z[q] and Z[M - q] of pair q, and pair 0
// holds Z[0] and Z[M/2]: what unpacking a real transform needs in one invocation.
fn fft_final_pos(slot: u32, tid: u32, order: u32) -> u32 {
    if (order == FFT_LAYOUT_NATURAL) {
        return tid + slot * FFT_THREADS;
    }
    let half_m = FFT_M / 2u;
    let pair = tid + (slot >> 1u) * FFT_THREADS;
    let q = pair & (half_m - 1u);
    var n = q;
    if ((slot & 1u) == 1u) {
        n = select(FFT_M - q, half_m, q == 0u);
    }
    return ((pair >> (FFT_LOG2_M - 1u)) << FFT_LOG2_M) + n;
}

fn fft_gather_pos(next_pass: u32, slot: u32, tid: u32, order: u32) -> u32 {
    if (next_pass < FFT_PASSES) {
        return fft_in_pos(next_pass, slot, tid);
    }
    return fft_final_pos(slot, tid, order);
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

// Moves every value from where pass `done_pass` put it to where the next step
// reads it. Called from uniform control flow only: it holds the barriers.
fn fft_exchange(done_pass: u32, tid: u32, order: u32) {
    let rounds = select(1u, 2u, FFT_SPLIT);
    for (var round = 0u; round < rounds; round++) {
        for (var s = 0u; s < FFT_SLOTS; s++) {
            fft_sh_store(fft_out_pos(done_pass, s, tid), fft_v[s], round);
        }
        workgroupBarrier();
        for (var s = 0u; s < FFT_SLOTS; s++) {
            fft_v[s] = fft_sh_load(fft_gather_pos(done_pass + 1u, s, tid, order), fft_v[s], round);
        }
        workgroupBarrier();
    }
}

// Twiddle base of the butterflies in slot group `s` of a pass: w for i mod p.
fn fft_pass_twiddle(pass_index: u32, s: u32, tid: u32) -> vec2<f32> {
    let lp = fft_span_log2(pass_index);
    let k = (tid + s * FFT_THREADS) & ((1u << lp) - 1u);
    return fft_twiddle(k << (FFT_LOG2_M - fft_radix_log2(pass_index) - lp));
}

fn fft_radix2_pass(pass_index: u32, tid: u32) {
    for (var s = 0u; s < FFT_SLOTS / 2u; s++) {
        let o = 2u * s;
        let a0 = fft_v[o];
        let a1 = cmul(fft_v[o + 1u], fft_pass_twiddle(pass_index, s, tid));
        fft_v[o] = a0 + a1;
        fft_v[o + 1u] = a0 - a1;
    }
}

fn fft_radix4_pass(pass_index: u32, tid: u32) {
    for (var s = 0u; s < FFT_SLOTS / 4u; s++) {
        let o = 4u * s;
        let w1 = fft_pass_twiddle(pass_index, s, tid);
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

fn fft_radix8_pass(pass_index: u32, tid: u32) {
    let r = 0.70710678118654752; // 1 / sqrt(2)
    for (var s = 0u; s < FFT_SLOTS / 8u; s++) {
        let o = 8u * s;
        let w1 = fft_pass_twiddle(pass_index, s, tid);
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

// Forward transform of the workgroup's FFT_FRAMES frames. On return fft_v[s]
// holds the spectrum element given by fft_final_pos(s, tid, order).
fn fft_run(tid: u32, order: u32) {
    for (var s = 0u; s < FFT_SLOTS; s++) {
        let e = fft_in_pos(0u, s, tid);
        fft_v[s] = fft_source(e >> FFT_LOG2_M, e & (FFT_M - 1u));
    }
    for (var pass_index = 0u; pass_index < FFT_PASSES; pass_index++) {
        switch fft_radix_log2(pass_index) {
            case 3u: {
                fft_radix8_pass(pass_index, tid);
            }
            case 2u: {
                fft_radix4_pass(pass_index, tid);
            }
            default: {
                fft_radix2_pass(pass_index, tid);
            }
        }
        fft_exchange(pass_index, tid, order);
    }
}
