//! A real forward FFT written out as straight-line WGSL, for plans that give
//! each invocation one whole frame (see [`super::fft::FftPlan::real_forward`]).
//!
//! Why: on CPU rasterisers (lavapipe) the shared FFT's value array lives in
//! memory, since NIR unrolls no loop over 64 slots, and every access to it
//! becomes a per-lane loop. Straight-line `let` values are SSA from the
//! start: no array, no exchange, only arithmetic, which NIR also compiles
//! quickly (a written-out array version compiled 10-20 times slower). The
//! measurements are in BENCHMARKS.md.
//!
//! The transform: the frame's N = 2M real samples packed as `z[n] = x[2n] +
//! i x[2n+1]` (what the kernel's `fft_source(frame, n)` returns), an M-point
//! radix-2 decimation-in-frequency FFT with constant twiddles (natural order
//! in, bit-reversed out, so the reordering is only renaming), then the
//! one-sided bins `X[q] = E + W^q O` and `X[M - q] = conj(E - W^q O)` handed
//! to `fft_store_bin(frame, k, x)` for valid frames, as `fft_store_real_bins`
//! does (shaders/fft_real.wgsl).

use std::f64::consts::PI;
use std::fmt::Write;

/// `fn fft_forward_real(tid: u32)` for one frame of `2 m` real samples per
/// invocation, frame `tid` of the workgroup. `m` is a power of two >= 2.
pub fn real_forward_wgsl(m: u32) -> String {
    assert!(m.is_power_of_two() && m >= 2, "M = {m}");
    let m = m as usize;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "// Written by src/gpu/fft_gen.rs for M = {m}: one frame per invocation.\n\
         fn fft_forward_real(tid: u32) {{"
    );
    let mut names: Vec<String> = (0..m).map(|n| format!("z0_{n}")).collect();
    for (n, name) in names.iter().enumerate() {
        let _ = writeln!(out, "    let {name} = fft_source(tid, {n}u);");
    }
    let stages = m.trailing_zeros() as usize;
    for stage in 0..stages {
        names = dif_stage(&mut out, &names, stage, m, stage);
    }
    let spectrum: Vec<&String> = (0..m).map(|k| &names[bit_reverse(k, stages)]).collect();
    let _ = writeln!(out, "    if (fft_frame_valid(tid)) {{");
    for q in 0..=m / 2 {
        unpack_pair(&mut out, &spectrum, q, m);
    }
    let _ = writeln!(out, "    }}\n}}");
    out
}

/// `fn fft_forward_real(tid: u32)` for frames of `2 m` real samples spread
/// over `lanes` invocations of one subgroup (`subgroup` invocations, a
/// multiple of `lanes`): invocation `tid` of the workgroup is lane
/// `tid % lanes` of frame `tid / lanes`, and its subgroup invocation id is
/// `tid % subgroup` (so subgroups are runs of consecutive invocations, as
/// on lavapipe; the STFT tests would catch any other numbering).
///
/// Lane l holds the frame's P = M / lanes values z[l P .. l P + P). The first
/// log2(lanes) radix-2 DIF stages pair lanes l and l ^ mask, exchanged by
/// `subgroupShuffleXor` (on lavapipe a shuffle costs about a tenth of a
/// store, barrier and load through workgroup memory); their twiddles
/// W_2h^(l P + j) are a per-lane root times a constant. The remaining stages
/// are each lane's own P-point DIF, so lane l ends with `Z[a lanes + r]` in
/// slot a (bit-reversed names), r = bitrev(l). The real-input unpacking pairs
/// `Z[k]` with `Z[M - k]`, held by the lane of residue (lanes - r) % lanes, one
/// `subgroupShuffle` per slot, and each lane stores its own bins (lane 0 also
/// bin M).
pub fn real_forward_lanes_wgsl(m: u32, lanes: u32, subgroup: u32) -> String {
    assert!(
        lanes.is_power_of_two() && lanes >= 2 && m / lanes >= 2 && subgroup.is_multiple_of(lanes),
        "M = {m}, lanes = {lanes}, subgroup = {subgroup}"
    );
    let (m, lanes) = (m as usize, lanes as usize);
    let p = m / lanes;
    let lane_bits = lanes.trailing_zeros();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "// Written by src/gpu/fft_gen.rs for M = {m}: {lanes} lanes of a {subgroup}-wide subgroup a frame.
         fn fft_forward_real(tid: u32) {{
             let frame = tid >> {lane_bits}u;
    let lane = tid & {}u;",
        lanes - 1
    );
    let mut names: Vec<String> = (0..p).map(|j| format!("z0_{j}")).collect();
    for (j, name) in names.iter().enumerate() {
        let _ = writeln!(
            out,
            "    let {name} = fft_source(frame, lane * {p}u + {j}u);"
        );
    }
    for (stage, mask) in (0..lane_bits).rev().map(|bit| 1usize << bit).enumerate() {
        names = lane_dif_stage(&mut out, &names, stage, mask, p);
    }
    let local_stages = p.trailing_zeros() as usize;
    for stage in 0..local_stages {
        names = dif_stage(&mut out, &names, stage, p, lane_bits as usize + stage);
    }
    let spectrum: Vec<&String> = (0..p)
        .map(|a| &names[bit_reverse(a, local_stages)])
        .collect();
    lane_unpack(&mut out, &spectrum, m, lanes, subgroup as usize);
    let _ = writeln!(out, "}}");
    out
}

/// A DIF stage whose butterflies pair lane l with lane l ^ `mask`, for the
/// P values of each lane: the lower lane keeps a + b, the upper one gets
/// (a - b) W_2h^((l % mask) P + j), h = mask P.
fn lane_dif_stage(
    out: &mut String,
    names: &[String],
    stage: usize,
    mask: usize,
    p: usize,
) -> Vec<String> {
    let span = 2 * mask * p;
    let _ = writeln!(
        out,
        "    let upper{stage} = (lane & {mask}u) != 0u;
             let sign{stage} = select(1.0, -1.0, upper{stage});
             let root{stage} = select(vec2<f32>(1.0, 0.0), unit_root((lane & {}u) * {p}u, {}u), upper{stage});",
        mask - 1,
        span.trailing_zeros()
    );
    let mut next = Vec::with_capacity(names.len());
    for (j, name) in names.iter().enumerate() {
        let new = format!("z{}_{j}", stage + 1);
        let twiddle = if j == 0 {
            format!("root{stage}")
        } else {
            format!(
                "select(vec2<f32>(1.0, 0.0), cmul(root{stage}, {}), upper{stage})",
                root(j, span)
            )
        };
        let _ = writeln!(
            out,
            "    let {new} = cmul(subgroupShuffleXor({name}, {mask}u) + sign{stage} * {name}, {twiddle});"
        );
        next.push(new);
    }
    next
}

/// Every lane's bins: `Z[k]` (slot a, k = a lanes + r) with `Z[M - k]` from the
/// partner lane, which sends slot (P - a) % P if r = 0 (lane 0, its own
/// partner) and P - 1 - a otherwise; the shuffles come before the frame test,
/// in uniform control flow.
fn lane_unpack(out: &mut String, spectrum: &[&String], m: usize, lanes: usize, subgroup: usize) {
    let p = spectrum.len();
    let lane_bits = lanes.trailing_zeros();
    let _ = writeln!(
        out,
        "    let residue = reverseBits(lane) >> {}u;
             let partner = reverseBits(({lanes}u - residue) & {}u) >> {}u;
             let partner_id = (tid & {}u) | partner;
             let own_partner = residue == 0u;
             let residue_root = unit_root(residue, {}u);",
        32 - lane_bits,
        lanes - 1,
        32 - lane_bits,
        (subgroup - 1) & !(lanes - 1),
        (2 * m).trailing_zeros()
    );
    // One slot at a time, so that only the slots still to be stored are live
    // across each store (lavapipe's compile time grows with that product).
    for a in 0..p {
        let twiddle = format!("cmul({}, residue_root)", root(a * lanes, 2 * m));
        let _ = writeln!(
            out,
            "    let mirror_{a} = subgroupShuffle(select({}, {}, own_partner), partner_id);\n    \
             if (fft_frame_valid(frame)) {{\n{}        \
             fft_store_bin(frame, {}u + residue, even + w_odd);",
            spectrum[p - 1 - a],
            spectrum[(p - a) % p],
            even_and_w_odd(spectrum[a], &format!("mirror_{a}"), &twiddle, "        "),
            a * lanes
        );
        if a == 0 {
            let _ = writeln!(
                out,
                "        if (own_partner) {{\n            fft_store_bin(frame, {m}u, conj(even - w_odd));\n        }}"
            );
        }
        let _ = writeln!(out, "    }}");
    }
}

/// One radix-2 DIF stage over the `m` values `names`; returns the stage's
/// output names, `z{named + 1}_i` (`named` counts any stages run before the
/// local ones, so names stay unique).
fn dif_stage(
    out: &mut String,
    names: &[String],
    stage: usize,
    m: usize,
    named: usize,
) -> Vec<String> {
    let half = m >> (stage + 1);
    let mut next = names.to_vec();
    for block in (0..m).step_by(2 * half) {
        for j in 0..half {
            let (i, k) = (block + j, block + j + half);
            let (a, b) = (&names[i], &names[k]);
            next[i] = format!("z{}_{i}", named + 1);
            next[k] = format!("z{}_{k}", named + 1);
            let _ = writeln!(out, "    let {} = {a} + {b};", next[i]);
            // Twiddle exp(-2 pi i j / (2 half)), exact for j = 0.
            let difference = if j == 0 {
                format!("{a} - {b}")
            } else {
                format!("cmul({a} - {b}, {})", root(j, 2 * half))
            };
            let _ = writeln!(out, "    let {} = {difference};", next[k]);
        }
    }
    next
}

/// Bins q and M - q from Z[q] and Z[M - q] (fft_store_pair in fft_real.wgsl).
fn unpack_pair(out: &mut String, spectrum: &[&String], q: usize, m: usize) {
    let (z1, z2) = (spectrum[q], spectrum[(m - q) % m]);
    let _ = writeln!(
        out,
        "        {{\n{}            fft_store_bin(tid, {q}u, even + w_odd);",
        even_and_w_odd(z1, z2, &root(q, 2 * m), "            ")
    );
    if 2 * q != m {
        let _ = writeln!(
            out,
            "            fft_store_bin(tid, {}u, conj(even - w_odd));",
            m - q
        );
    }
    let _ = writeln!(out, "        }}");
}

/// `let even` and `let w_odd` (E and W^q O) from Z[q] = `z1` and
/// Z[M - q] = `z2`, `twiddle` = W^q, each line indented by `indent`: bin q
/// is `even + w_odd`, bin M - q `conj(even - w_odd)` (fft_store_pair in
/// fft_real.wgsl).
fn even_and_w_odd(z1: &str, z2: &str, twiddle: &str, indent: &str) -> String {
    format!(
        "{indent}let even = 0.5 * ({z1} + conj({z2}));\n\
         {indent}let w_odd = cmul({twiddle}, mul_neg_i(0.5 * ({z1} - conj({z2}))));\n"
    )
}

/// exp(-2 pi i q / n) as a WGSL vec2 literal, from f64.
fn root(q: usize, n: usize) -> String {
    let angle = -2.0 * PI * q as f64 / n as f64;
    format!(
        "vec2<f32>({}, {})",
        literal(angle.cos() as f32),
        literal(angle.sin() as f32)
    )
}

/// A WGSL f32 literal that reads back as `x` (Rust's shortest round-trip
/// form, with a decimal point so it is a float).
fn literal(x: f32) -> String {
    let text = format!("{x:?}");
    if text.contains(['.', 'e']) {
        text
    } else {
        format!("{text}.0")
    }
}

fn bit_reverse(k: usize, bits: usize) -> usize {
    if bits == 0 {
        return 0;
    }
    k.reverse_bits() >> (usize::BITS as usize - bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    type C = (f64, f64);

    fn mul(a: C, b: C) -> C {
        (a.0 * b.0 - a.1 * b.1, a.0 * b.1 + a.1 * b.0)
    }

    fn unit(q: usize, n: usize) -> C {
        let angle = -2.0 * PI * q as f64 / n as f64;
        (angle.cos(), angle.sin())
    }

    /// X[k] = E + W_N^k O from Z[k] and Z[M - k] (`twiddle` = W_N^k).
    fn unpack(z1: C, z2: C, twiddle: C) -> (C, C) {
        let even = (0.5 * (z1.0 + z2.0), 0.5 * (z1.1 - z2.1));
        let odd = (0.5 * (z1.1 + z2.1), -0.5 * (z1.0 - z2.0));
        let w_odd = mul(twiddle, odd);
        let low = (even.0 + w_odd.0, even.1 + w_odd.1);
        (low, (even.0 - w_odd.0, -(even.1 - w_odd.1)))
    }

    /// The radix-2 DIF stages of [`dif_stage`] over `z` in place (natural
    /// order in, bit-reversed out).
    fn local_dif(z: &mut [C]) {
        let m = z.len();
        for stage in 0..m.trailing_zeros() as usize {
            let half = m >> (stage + 1);
            for block in (0..m).step_by(2 * half) {
                for j in 0..half {
                    let (a, b) = (z[block + j], z[block + j + half]);
                    z[block + j] = (a.0 + b.0, a.1 + b.1);
                    z[block + j + half] = mul((a.0 - b.0, a.1 - b.1), unit(j, 2 * half));
                }
            }
        }
    }

    /// The generated statements of [`real_forward_wgsl`] evaluated in f64.
    fn evaluate(m: usize, x: &[f64]) -> Vec<C> {
        let mut z: Vec<C> = (0..m).map(|n| (x[2 * n], x[2 * n + 1])).collect();
        local_dif(&mut z);
        let stages = m.trailing_zeros() as usize;
        let spectrum: Vec<_> = (0..m).map(|k| z[bit_reverse(k, stages)]).collect();
        let mut bins = vec![(0.0, 0.0); m + 1];
        for q in 0..=m / 2 {
            let (low, high) = unpack(spectrum[q], spectrum[(m - q) % m], unit(q, 2 * m));
            bins[q] = low;
            bins[m - q] = high;
        }
        bins
    }

    /// The statements of [`real_forward_lanes_wgsl`] evaluated in f64, lane
    /// by lane, shuffles as reads of the other lane; every bin must be
    /// stored once.
    fn evaluate_lanes(m: usize, lanes: usize, x: &[f64]) -> Vec<C> {
        let p = m / lanes;
        let lane_bits = lanes.trailing_zeros() as usize;
        let mut v: Vec<Vec<C>> = (0..lanes)
            .map(|l| {
                (0..p)
                    .map(|j| (x[2 * (l * p + j)], x[2 * (l * p + j) + 1]))
                    .collect()
            })
            .collect();
        for mask in (0..lane_bits).rev().map(|bit| 1usize << bit) {
            let old = v.clone();
            for (l, lane) in v.iter_mut().enumerate() {
                let upper = l & mask != 0;
                for (j, value) in lane.iter_mut().enumerate() {
                    let (own, other) = (old[l][j], old[l ^ mask][j]);
                    let sign = if upper { -1.0 } else { 1.0 };
                    let sum = (other.0 + sign * own.0, other.1 + sign * own.1);
                    let twiddle = if upper {
                        unit((l & (mask - 1)) * p + j, 2 * mask * p)
                    } else {
                        (1.0, 0.0)
                    };
                    *value = mul(sum, twiddle);
                }
            }
        }
        let spectra: Vec<Vec<C>> = v
            .into_iter()
            .map(|mut lane| {
                local_dif(&mut lane);
                let stages = p.trailing_zeros() as usize;
                (0..p).map(|a| lane[bit_reverse(a, stages)]).collect()
            })
            .collect();
        let mut bins: Vec<Option<C>> = vec![None; m + 1];
        let mut store = |k: usize, value: C| {
            assert!(bins[k].replace(value).is_none(), "bin {k} stored twice");
        };
        for (l, spectrum) in spectra.iter().enumerate() {
            let residue = bit_reverse(l, lane_bits);
            let partner = bit_reverse((lanes - residue) & (lanes - 1), lane_bits);
            for a in 0..p {
                let mirror = if residue == 0 {
                    spectra[partner][(p - a) % p]
                } else {
                    spectra[partner][p - 1 - a]
                };
                let twiddle = mul(unit(a * lanes, 2 * m), unit(residue, 2 * m));
                let (low, high) = unpack(spectrum[a], mirror, twiddle);
                store(a * lanes + residue, low);
                if a == 0 && residue == 0 {
                    store(m, high);
                }
            }
        }
        bins.into_iter()
            .map(|b| b.expect("every bin stored"))
            .collect()
    }

    /// The worst error of `bins` against the DFT of `x`, over n.
    fn dft_error(x: &[f64], bins: &[C]) -> f64 {
        let n = x.len();
        let mut worst = 0.0f64;
        for (k, &(re, im)) in bins.iter().enumerate() {
            let (mut dre, mut dim) = (0.0, 0.0);
            for (t, &v) in x.iter().enumerate() {
                let w = unit(k * t % n, n);
                dre += v * w.0;
                dim += v * w.1;
            }
            worst = worst.max((re - dre).abs().max((im - dim).abs()) / n as f64);
        }
        worst
    }

    fn test_frame(n: usize) -> Vec<f64> {
        (0..n)
            .map(|t| ((t * 7919) % 101) as f64 / 50.0 - 1.0)
            .collect()
    }

    #[test]
    fn the_written_out_algorithm_is_the_real_dft() {
        for m in [2usize, 8, 64, 128, 256] {
            let x = test_frame(2 * m);
            let error = dft_error(&x, &evaluate(m, &x));
            assert!(error < 1e-12, "M={m}: {error:e}");
        }
    }

    #[test]
    fn the_algorithm_across_lanes_is_the_real_dft() {
        for (m, lanes) in [
            (4usize, 2usize),
            (16, 2),
            (16, 4),
            (64, 8),
            (128, 8),
            (512, 8),
            (256, 32),
        ] {
            let x = test_frame(2 * m);
            let error = dft_error(&x, &evaluate_lanes(m, lanes, &x));
            assert!(error < 1e-12, "M={m}, {lanes} lanes: {error:e}");
        }
    }

    #[test]
    fn lanes_store_each_residue_slot_once_and_shuffle_in_uniform_control_flow() {
        for (m, lanes, subgroup) in [(16u32, 4u32, 8u32), (512, 8, 8), (128, 2, 32)] {
            let source = real_forward_lanes_wgsl(m, lanes, subgroup);
            let p = m / lanes;
            for a in 0..p {
                let store = format!("fft_store_bin(frame, {}u + residue,", a * lanes);
                assert_eq!(source.matches(&store).count(), 1, "M={m} slot {a}");
            }
            assert_eq!(
                source
                    .matches(&format!("fft_store_bin(frame, {m}u,"))
                    .count(),
                1
            );
            // Every shuffle sits at the function's top level (4 spaces in).
            for line in source.lines().filter(|l| l.contains("subgroupShuffle")) {
                assert!(
                    line.starts_with("    let ") && !line.starts_with("     "),
                    "{line}"
                );
            }
            assert!(source.contains(&format!(
                "(tid & {}u) | partner",
                (subgroup - 1) & !(lanes - 1)
            )));
        }
    }

    #[test]
    fn every_bin_is_stored_once_and_every_value_defined_before_use() {
        for m in [2u32, 8, 128, 256, 512] {
            let source = real_forward_wgsl(m);
            for k in 0..=m {
                let stores = source.matches(&format!("fft_store_bin(tid, {k}u,")).count();
                assert_eq!(stores, 1, "M={m} bin {k}");
            }
            assert_defined_before_use(&source, &format!("M={m}"));
        }
        for (m, lanes) in [(16u32, 2u32), (512, 8)] {
            assert_defined_before_use(
                &real_forward_lanes_wgsl(m, lanes, 8),
                &format!("M={m}, {lanes} lanes"),
            );
        }
    }

    /// Each `z..._n` value is defined once, before any use.
    fn assert_defined_before_use(source: &str, context: &str) {
        let mut defined = std::collections::HashSet::new();
        for line in source.lines() {
            let line = line.trim();
            let (name, uses) = match line.strip_prefix("let ") {
                Some(rest) => rest.split_once(" = ").unwrap(),
                None => ("", line),
            };
            for word in uses.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if word.starts_with('z') && word[1..].contains('_') {
                    assert!(
                        defined.contains(word),
                        "{context}: {word} used before it is defined"
                    );
                }
            }
            if name.starts_with('z') {
                assert!(defined.insert(name.to_string()), "{context}: {name} twice");
            }
        }
    }

    #[test]
    fn literals_read_back_as_floats() {
        assert_eq!(literal(1.0), "1.0");
        assert_eq!(literal(-0.0), "-0.0");
        assert_eq!(literal(0.70710677), "0.70710677");
        assert!(literal(1e-8).parse::<f32>().unwrap() == 1e-8);
    }
}
