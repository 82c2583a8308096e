// Shared workgroup FFT: a mixed radix-4/radix-2 Stockham transform held in
// registers, with workgroup memory used only to exchange values between passes.
//
// This file is not a shader on its own. The host prepends a constant block
// (src/gpu/shader.rs, `FftPlan::wgsl_constants`) and appends a kernel file that
//   * declares `@group(0) @binding(0) var<storage, read> fft_twiddles: array<vec2<f32>>;`
//     holding exp(-2 pi i q / (2 FFT_M)) for q in 0..2 FFT_M (the host builds it in f64),
//   * defines `fn fft_source(frame: u32, n: u32) -> vec2<f32>` returning element n
//     of the workgroup's local frame `frame` (the transform input),
//   * calls `fft_run(tid, order)` from uniform control flow.
//
// Constants from the host (keep in sync with FftPlan::wgsl_constants):
//   FFT_M            complex transform length, a power of two >= 8
//   FFT_FRAMES       transforms per workgroup
//   FFT_THREADS      invocations per workgroup
//   FFT_SLOTS        values each invocation holds (FFT_FRAMES * FFT_M / FFT_THREADS, a multiple of 4)
//   FFT_PASSES       number of radix passes
//   FFT_FIRST_RADIX2 true when log2(FFT_M) is odd: pass 0 is radix 2, the rest radix 4
//   FFT_SPLIT        true when workgroup memory cannot hold FFT_FRAMES * FFT_M complex values:
//                    real and imaginary parts are then exchanged in two rounds
//   FFT_SH_B         length of the second exchange array (1 when FFT_SPLIT)
//
// Index scheme (Bainville's Stockham formulation): in a pass of radix r after
// sub-transforms of length p, butterfly i of a frame reads elements i + j M/r and
// writes (i - i mod p) r + i mod p + j p, after twiddling input j by
// exp(-2 pi i j (i mod p) / (p r)).

const FFT_LAYOUT_NATURAL: u32 = 0u;
const FFT_LAYOUT_REAL_PAIRS: u32 = 1u;
const FFT_ELEMENTS: u32 = FFT_FRAMES * FFT_M;

var<workgroup> fft_sh_a: array<f32, FFT_ELEMENTS>;
var<workgroup> fft_sh_b: array<f32, FFT_SH_B>;
var<private> fft_v: array<vec2<f32>, FFT_SLOTS>;

fn cmul(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
    return vec2<f32>(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x);
}

fn conj(a: vec2<f32>) -> vec2<f32> {
    return vec2<f32>(a.x, -a.y);
}

// exp(-2 pi i q / FFT_M)
fn fft_twiddle(q: u32) -> vec2<f32> {
    return fft_twiddles[2u * q];
}

fn fft_radix(pass_index: u32) -> u32 {
    if (FFT_FIRST_RADIX2 && pass_index == 0u) {
        return 2u;
    }
    return 4u;
}

// Length of the sub-transforms already done before `pass_index`.
fn fft_span(pass_index: u32) -> u32 {
    if (FFT_FIRST_RADIX2) {
        if (pass_index == 0u) {
            return 1u;
        }
        return 2u << (2u * (pass_index - 1u));
    }
    return 1u << (2u * pass_index);
}

// Element read by `slot` of invocation `tid` at the start of `pass_index`.
fn fft_in_pos(pass_index: u32, slot: u32, tid: u32) -> u32 {
    let r = fft_radix(pass_index);
    let per_frame = FFT_M / r;
    let b = tid + (slot / r) * FFT_THREADS;
    let j = slot % r;
    return (b / per_frame) * FFT_M + (b % per_frame) + j * per_frame;
}

// Element written by `slot` of invocation `tid` at the end of `pass_index`.
fn fft_out_pos(pass_index: u32, slot: u32, tid: u32) -> u32 {
    let r = fft_radix(pass_index);
    let p = fft_span(pass_index);
    let per_frame = FFT_M / r;
    let b = tid + (slot / r) * FFT_THREADS;
    let i = b % per_frame;
    let k = i % p;
    return (b / per_frame) * FFT_M + (i - k) * r + k + (slot % r) * p;
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
    let pair = tid + (slot / 2u) * FFT_THREADS;
    let q = pair % half_m;
    var n = q;
    if (slot % 2u == 1u) {
        n = select(FFT_M - q, half_m, q == 0u);
    }
    return (pair / half_m) * FFT_M + n;
}

fn fft_gather_pos(next_pass: u32, slot: u32, tid: u32, order: u32) -> u32 {
    if (next_pass < FFT_PASSES) {
        return fft_in_pos(next_pass, slot, tid);
    }
    return fft_final_pos(slot, tid, order);
}

fn fft_sh_store(i: u32, value: vec2<f32>, round: u32) {
    if (FFT_SPLIT) {
        fft_sh_a[i] = select(value.x, value.y, round == 1u);
    } else {
        fft_sh_a[i] = value.x;
        fft_sh_b[i] = value.y;
    }
}

fn fft_sh_load(i: u32, old: vec2<f32>, round: u32) -> vec2<f32> {
    if (FFT_SPLIT) {
        if (round == 0u) {
            return vec2<f32>(fft_sh_a[i], old.y);
        }
        return vec2<f32>(old.x, fft_sh_a[i]);
    }
    return vec2<f32>(fft_sh_a[i], fft_sh_b[i]);
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

fn fft_radix4_pass(pass_index: u32, tid: u32) {
    let p = fft_span(pass_index);
    let stride = FFT_M / (4u * p);
    for (var s = 0u; s < FFT_SLOTS / 4u; s++) {
        let k = ((tid + s * FFT_THREADS) % (FFT_M / 4u)) % p;
        let a0 = fft_v[4u * s];
        let a1 = cmul(fft_v[4u * s + 1u], fft_twiddle(k * stride));
        let a2 = cmul(fft_v[4u * s + 2u], fft_twiddle(2u * k * stride));
        let a3 = cmul(fft_v[4u * s + 3u], fft_twiddle(3u * k * stride));
        let t0 = a0 + a2;
        let t1 = a0 - a2;
        let t2 = a1 + a3;
        let d = a1 - a3;
        let t3 = vec2<f32>(d.y, -d.x); // (a1 - a3) * -i
        fft_v[4u * s] = t0 + t2;
        fft_v[4u * s + 1u] = t1 + t3;
        fft_v[4u * s + 2u] = t0 - t2;
        fft_v[4u * s + 3u] = t1 - t3;
    }
}

fn fft_radix2_pass(pass_index: u32, tid: u32) {
    let p = fft_span(pass_index);
    let stride = FFT_M / (2u * p);
    for (var s = 0u; s < FFT_SLOTS / 2u; s++) {
        let k = ((tid + s * FFT_THREADS) % (FFT_M / 2u)) % p;
        let a0 = fft_v[2u * s];
        let a1 = cmul(fft_v[2u * s + 1u], fft_twiddle(k * stride));
        fft_v[2u * s] = a0 + a1;
        fft_v[2u * s + 1u] = a0 - a1;
    }
}

// Forward transform of the workgroup's FFT_FRAMES frames. On return fft_v[s]
// holds the spectrum element given by fft_final_pos(s, tid, order).
fn fft_run(tid: u32, order: u32) {
    for (var s = 0u; s < FFT_SLOTS; s++) {
        let e = fft_in_pos(0u, s, tid);
        fft_v[s] = fft_source(e / FFT_M, e % FFT_M);
    }
    for (var pass_index = 0u; pass_index < FFT_PASSES; pass_index++) {
        if (fft_radix(pass_index) == 4u) {
            fft_radix4_pass(pass_index, tid);
        } else {
            fft_radix2_pass(pass_index, tid);
        }
        fft_exchange(pass_index, tid, order);
    }
}
