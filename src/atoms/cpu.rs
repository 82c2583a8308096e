//! The CPU reference renderer: the atom model evaluated sample by sample in
//! f64 from the same prepared atoms the GPU reads, on all threads.

use super::prepare::{
    ExactAtom, ExactPartial, GpuAtom, GpuPartial, KNOT_SPACING, LOWPASS_SILENT, PreparedAtoms,
    envelope_ln, fixed_phase, grid_noise, hermite,
};
use super::{Atom, prepare};
use crate::error::Result;
use std::f64::consts::TAU;

/// Renders `atoms` at `rate` into `samples` samples (atoms past the end are
/// cut), accumulating in f64 on `threads` threads (0: all cores).
pub fn render(atoms: &[Atom], rate: u32, samples: usize, threads: usize) -> Result<Vec<f32>> {
    let prepared = prepare(atoms, rate)?;
    Ok(render_prepared(&prepared, samples, threads)
        .into_iter()
        .map(|v| v as f32)
        .collect())
}

/// Renders prepared atoms in f64.
pub fn render_prepared(prepared: &PreparedAtoms, samples: usize, threads: usize) -> Vec<f64> {
    let partial_sums = super::map_chunks(&prepared.atoms, threads, 1, |first, chunk| {
        let mut out = vec![0.0f64; samples];
        for i in first..first + chunk.len() {
            add_atom(prepared, i, &mut out);
        }
        out
    });
    let mut out = vec![0.0f64; samples];
    for part in partial_sums {
        for (o, p) in out.iter_mut().zip(part) {
            *o += p;
        }
    }
    out
}

/// Adds atom `i` into `out`.
fn add_atom(prepared: &PreparedAtoms, i: usize, out: &mut [f64]) {
    let atom = &prepared.atoms[i];
    let exact = &prepared.exact[i];
    let start = atom.start as usize;
    if start >= out.len() {
        return;
    }
    let range = atom.partial_first as usize..(atom.partial_first + atom.partial_count) as usize;
    let partials = (
        &prepared.partials[range.clone()],
        &prepared.exact_partials[range],
    );
    let knots = &prepared.knots[atom.knot_index as usize..][..atom.knot_count as usize];
    let end = (atom.len as usize).min(out.len() - start);
    for m in 0..end {
        out[start + m] += sample(prepared.rate as f64, atom, exact, partials, knots, m as u32);
    }
}

/// The atom's value at its sample `m`.
pub(crate) fn sample(
    fs: f64,
    atom: &GpuAtom,
    exact: &ExactAtom,
    (partials, exact_partials): (&[GpuPartial], &[ExactPartial]),
    knots: &[[f64; 2]],
    m: u32,
) -> f64 {
    let mut value = 0.0;
    if exact.burst_gain != 0.0 && (atom.burst_begin..atom.burst_end).contains(&m) {
        let tau = (m as f64 + exact.frac) / fs;
        let e = envelope_ln(exact.envelope, exact.attack, exact.length, tau).exp();
        value += exact.burst_gain * e * band_noise(atom, exact, m);
    }
    if exact.resonance_gain != 0.0 && !partials.is_empty() {
        let r = resonance_envelope(atom, exact, knots, m);
        let octaves = exact.closing_step * m as f64;
        let sum: f64 = partials
            .iter()
            .zip(exact_partials)
            .take_while(|(p, _)| audible(p, exact, m))
            .map(|(p, e)| {
                let gain = 1.0 / (1.0 + (e.lowpass + octaves).exp2()).sqrt();
                let phase = (fixed_phase(m, p.step) + e.offset).fract();
                e.amplitude * gain * (TAU * phase).sin()
            })
            .sum();
        value += exact.resonance_gain * r * sum;
    }
    value
}

/// Whether partial `p` (and so every partial before it) is above the low-pass's
/// silence threshold at sample `m`: the f32 test the GPU makes, made here too.
pub(crate) fn audible(p: &GpuPartial, exact: &ExactAtom, m: u32) -> bool {
    p.lowpass + exact.closing_step as f32 * m as f32 <= LOWPASS_SILENT
}

/// Unit-variance noise in the atom's band at sample `m`: two cubic B-spline
/// interpolated hash-noise streams in quadrature on the band's carrier.
fn band_noise(atom: &GpuAtom, exact: &ExactAtom, m: u32) -> f64 {
    let x = m as f64 * exact.grid_step + exact.grid_offset;
    let j = x.floor();
    let weights = bspline_weights(x - j);
    let norm = weights.iter().map(|w| w * w).sum::<f64>().sqrt();
    let stream = |key: u32| {
        weights
            .iter()
            .enumerate()
            .map(|(i, w)| w * grid_noise(key, (j as i64 - 1 + i as i64) as u32))
            .sum::<f64>()
            / norm
    };
    let phase = (fixed_phase(m, atom.carrier_step) + exact.carrier_offset).fract();
    let (sin, cos) = (TAU * phase).sin_cos();
    stream(atom.key_cos) * cos + stream(atom.key_sin) * sin
}

/// Cubic B-spline weights of the grid points j-1, j, j+1, j+2 at fraction `t`.
pub fn bspline_weights(t: f64) -> [f64; 4] {
    let s = 1.0 - t;
    [
        s * s * s / 6.0,
        (3.0 * t * t * t - 6.0 * t * t + 4.0) / 6.0,
        (-3.0 * t * t * t + 3.0 * t * t + 3.0 * t + 1.0) / 6.0,
        t * t * t / 6.0,
    ]
}

/// R at sample `m`: zero before the first knot, Hermite between knots, a
/// closed-form exponential decay after the last.
fn resonance_envelope(atom: &GpuAtom, exact: &ExactAtom, knots: &[[f64; 2]], m: u32) -> f64 {
    let first = atom.knot_first as usize * KNOT_SPACING;
    let m = m as usize;
    if m < first {
        return 0.0;
    }
    let offset = m - first;
    let j = offset / KNOT_SPACING;
    if j + 1 >= knots.len() {
        let tail = (knots.len() - 1) * KNOT_SPACING;
        let last = knots[knots.len() - 1][0];
        return last * (-exact.decay_step * (offset - tail) as f64).exp();
    }
    let t = (offset % KNOT_SPACING) as f64 / KNOT_SPACING as f64;
    let (a, b) = (knots[j], knots[j + 1]);
    hermite(a[0], a[1], b[0], b[1], t)
}
