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
        names = dif_stage(&mut out, &names, stage, m);
    }
    let spectrum: Vec<&String> = (0..m).map(|k| &names[bit_reverse(k, stages)]).collect();
    let _ = writeln!(out, "    if (fft_frame_valid(tid)) {{");
    for q in 0..=m / 2 {
        unpack_pair(&mut out, &spectrum, q, m);
    }
    let _ = writeln!(out, "    }}\n}}");
    out
}

/// One radix-2 DIF stage over `names`; returns the stage's output names.
fn dif_stage(out: &mut String, names: &[String], stage: usize, m: usize) -> Vec<String> {
    let half = m >> (stage + 1);
    let mut next = names.to_vec();
    for block in (0..m).step_by(2 * half) {
        for j in 0..half {
            let (i, k) = (block + j, block + j + half);
            let (a, b) = (&names[i], &names[k]);
            next[i] = format!("z{}_{i}", stage + 1);
            next[k] = format!("z{}_{k}", stage + 1);
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
        "        {{\n            let even = 0.5 * ({z1} + conj({z2}));\n            \
         let w_odd = cmul({}, mul_neg_i(0.5 * ({z1} - conj({z2}))));\n            \
         fft_store_bin(tid, {q}u, even + w_odd);",
        root(q, 2 * m)
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

    /// The generated statements evaluated in f64, as the shader would.
    fn evaluate(m: usize, x: &[f64]) -> Vec<(f64, f64)> {
        let mut z: Vec<(f64, f64)> = (0..m).map(|n| (x[2 * n], x[2 * n + 1])).collect();
        let stages = m.trailing_zeros() as usize;
        for stage in 0..stages {
            let half = m >> (stage + 1);
            for block in (0..m).step_by(2 * half) {
                for j in 0..half {
                    let (a, b) = (z[block + j], z[block + j + half]);
                    let angle = -2.0 * PI * j as f64 / (2 * half) as f64;
                    let d = (a.0 - b.0, a.1 - b.1);
                    z[block + j] = (a.0 + b.0, a.1 + b.1);
                    z[block + j + half] = (
                        d.0 * angle.cos() - d.1 * angle.sin(),
                        d.0 * angle.sin() + d.1 * angle.cos(),
                    );
                }
            }
        }
        let spectrum: Vec<_> = (0..m).map(|k| z[bit_reverse(k, stages)]).collect();
        let mut bins = vec![(0.0, 0.0); m + 1];
        for q in 0..=m / 2 {
            let (z1, z2) = (spectrum[q], spectrum[(m - q) % m]);
            let even = (0.5 * (z1.0 + z2.0), 0.5 * (z1.1 - z2.1));
            let diff = (0.5 * (z1.0 - z2.0), 0.5 * (z1.1 + z2.1));
            let odd = (diff.1, -diff.0);
            let angle = -2.0 * PI * q as f64 / (2 * m) as f64;
            let (c, s) = (angle.cos(), angle.sin());
            let w_odd = (c * odd.0 - s * odd.1, c * odd.1 + s * odd.0);
            bins[q] = (even.0 + w_odd.0, even.1 + w_odd.1);
            bins[m - q] = (even.0 - w_odd.0, -(even.1 - w_odd.1));
        }
        bins
    }

    #[test]
    fn the_written_out_algorithm_is_the_real_dft() {
        for m in [2usize, 8, 64, 128, 256] {
            let n = 2 * m;
            let x: Vec<f64> = (0..n)
                .map(|t| ((t * 7919) % 101) as f64 / 50.0 - 1.0)
                .collect();
            let bins = evaluate(m, &x);
            for (k, &(re, im)) in bins.iter().enumerate() {
                let (mut dre, mut dim) = (0.0, 0.0);
                for (t, &v) in x.iter().enumerate() {
                    let angle = -2.0 * PI * (k * t) as f64 / n as f64;
                    dre += v * angle.cos();
                    dim += v * angle.sin();
                }
                assert!(
                    (re - dre).abs() < 1e-9 * n as f64 && (im - dim).abs() < 1e-9 * n as f64,
                    "M={m} bin {k}: ({re}, {im}) vs ({dre}, {dim})"
                );
            }
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
                            "M={m}: {word} used before it is defined"
                        );
                    }
                }
                if name.starts_with('z') {
                    assert!(defined.insert(name.to_string()), "M={m}: {name} twice");
                }
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
