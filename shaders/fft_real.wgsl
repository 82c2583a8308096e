// Forward real-input transforms on top of shaders/fft.wgsl (prefixed by it;
// the inverse direction is there too, as it needs no callbacks).
//
// A real frame of N = 2 FFT_M samples is packed as z[n] = x[2n] + i x[2n+1];
// the kernel's fft_source returns that packing and it calls
// fft_forward_real(tid) (below; for a generated plan the host includes
// straight-line code from src/gpu/fft_gen.rs instead of this file), which
// hands every one-sided bin k in 0..=FFT_M of every valid frame, exactly once
// (the STFT loss sums a term per bin), to the kernel's callbacks:
//   fn fft_store_bin(frame: u32, k: u32, x: vec2<f32>)
//   fn fft_frame_valid(frame: u32) -> bool   (frames past the end are skipped)

// The forward transform of the workgroup's frames, every bin handed to the kernel.
fn fft_forward_real(tid: u32) {
    fft_run(tid, FFT_LAYOUT_REAL_PAIRS);
    fft_store_real_bins(tid);
}

// Hands every bin of the workgroup's frames to fft_store_bin.
fn fft_store_real_bins(tid: u32) {
    for (var h = 0u; h < (FFT_SLOTS >> (FFT_LAST_LOG2R + 1u)); h++) {
        fft_unpack_butterfly_pair(h, tid);
    }
}

// Bins q and M - q from Z[q] and Z[M - q]: X[q] = E + W^q O and
// X[M - q] = conj(E - W^q O), with E, O the spectra of the even and odd
// samples. Also right for q = 0 (z2 = z1 = Z[0] gives X[0] and X[M]) and for
// q = M/2 (z2 = z1 gives X[M/2], stored once).
fn fft_store_pair(frame: u32, q: u32, z1: vec2<f32>, z2: vec2<f32>) {
    let even = 0.5 * (z1 + conj(z2));
    let odd = mul_neg_i(0.5 * (z1 - conj(z2))); // (z1 - conj z2) / 2i
    let w_odd = cmul(unit_root(q, FFT_LOG2_M + 1u), odd);
    fft_store_bin(frame, q, even + w_odd);
    if (2u * q != FFT_M) {
        fft_store_bin(frame, FFT_M - q, conj(even - w_odd));
    }
}

// Unpacks the butterfly pair in slots [a, a + r) and [b, b + r), b = a + r
// (see fft_butterfly): butterflies u and M/r - u pair output j of one with
// output r-1-j of the other. The frame's first pair (u = 0) holds butterflies
// 0 and M/2r, each its own partner, and one more bin pair than the others; every
// pair group runs r + 1 steps and picks its values with `select`, not a branch,
// which CPU rasterisers would run both sides of. The general ones' last step
// would repeat step 0 and stores nothing.
fn fft_unpack_butterfly_pair(h: u32, tid: u32) {
    let r = 1u << FFT_LAST_LOG2R;
    let stride = FFT_M >> FFT_LAST_LOG2R; // distance between a butterfly's outputs
    let pair = tid + h * FFT_THREADS;
    let frame = pair >> (FFT_LOG2_M - FFT_LAST_LOG2R - 1u);
    let u = pair & ((stride >> 1u) - 1u);
    if (!fft_frame_valid(frame)) {
        return;
    }
    let first = u == 0u;
    let a = 2u * h * r;
    let b = a + r;
    for (var step = 0u; step <= r; step++) {
        let j = step % r;
        let general_q = u + j * stride;
        let general_z2 = fft_out_b(b, r - 1u - j);
        // u = 0: steps 0..=r/2 pair butterfly 0 with itself, the rest butterfly M/2r.
        let in_a = step <= r / 2u;
        let m = step - (r / 2u + 1u);
        let first_q = select((stride >> 1u) + m * stride, step * stride, in_a);
        let first_z1 = select(fft_out_b(b, m % r), fft_out_b(a, step % r), in_a);
        let first_z2 = select(fft_out_b(b, (r - 1u - m) % r), fft_out_b(a, (r - step) % r), in_a);
        if (first || step < r) {
            fft_store_pair(
                frame,
                select(general_q, first_q, first),
                select(fft_out_b(a, j), first_z1, first),
                select(general_z2, first_z2, first),
            );
        }
    }
}

// Output j of the last-pass butterfly whose slots start at o.
fn fft_out_b(o: u32, j: u32) -> vec2<f32> {
    return fft_v[o + fft_output_slot(FFT_LAST_LOG2R, j)];
}
