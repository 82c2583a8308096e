//! Gradients of a loss with respect to every atom parameter, given the loss's
//! gradient with respect to the rendered signal: `dL/dθ = Σ_n dL/dy[n] ∂x[n]/∂θ`.
//!
//! The parametrisation is the one the encoder optimises: the shape parameters
//! (all physical fields but `amplitude` and `mix`) and the two raw gains that
//! multiply the unnormalised burst and resonance (see
//! [`super::prepare_for_gradient`]); [`super::atom_with_gains`] turns gains
//! back into amplitude and mix. Every per-sample derivative is analytic, except
//! those of the tabulated resonance envelope with respect to attack, length
//! and t60, which the host tabulates by f64 central differences.
//!
//! `gradient_reference` is the f64 CPU reference; `gpu::gradient` runs the
//! same formulas in shaders/atoms.wgsl.

use super::Atom;
use super::prepare::{
    ExactAtom, ExactPartial, GpuAtom, GpuPartial, KNOT_SPACING, NOISE_GRID_TIMES_WIDTH,
    PreparedAtoms, envelope_ln, fixed_phase, grid_noise, hermite,
};
use std::f64::consts::{LN_2, TAU};

/// What each entry of a [`Gradient`] is the derivative with respect to.
pub const GRADIENT_FIELDS: [&str; 13] = [
    "onset",
    "f0",
    "spacing",
    "rolloff",
    "t60",
    "brightness",
    "closing",
    "noise_centre",
    "noise_width",
    "attack",
    "length",
    "burst_gain",
    "resonance_gain",
];

/// dL/dθ for one atom, in [`GRADIENT_FIELDS`] order (physical units: per
/// second, per hertz, ...).
pub type Gradient = [f64; 13];

/// Indices into a [`Gradient`].
pub mod field {
    pub const ONSET: usize = 0;
    pub const F0: usize = 1;
    pub const SPACING: usize = 2;
    pub const ROLLOFF: usize = 3;
    pub const T60: usize = 4;
    pub const BRIGHTNESS: usize = 5;
    pub const CLOSING: usize = 6;
    pub const NOISE_CENTRE: usize = 7;
    pub const NOISE_WIDTH: usize = 8;
    pub const ATTACK: usize = 9;
    pub const LENGTH: usize = 10;
    pub const BURST_GAIN: usize = 11;
    pub const RESONANCE_GAIN: usize = 12;
}

/// dL/dθ of every atom, from `grad_y` = dL/dy over output samples
/// `0..grad_y.len()`, in f64 on all threads. `prepared` must come from
/// [`super::prepare_for_gradient`] of the same `atoms`.
pub fn gradient_reference(
    prepared: &PreparedAtoms,
    atoms: &[Atom],
    grad_y: &[f32],
) -> Vec<Gradient> {
    let parts = super::map_chunks(atoms, 0, 1, |first, chunk| {
        chunk
            .iter()
            .enumerate()
            .map(|(i, atom)| atom_gradient(prepared, first + i, atom, grad_y))
            .collect::<Vec<_>>()
    });
    parts.into_iter().flatten().collect()
}

/// The view of one atom a per-sample derivative needs.
struct AtomView<'a> {
    fs: f64,
    atom: &'a Atom,
    gpu: &'a GpuAtom,
    exact: &'a ExactAtom,
    partials: &'a [GpuPartial],
    exact_partials: &'a [ExactPartial],
    knots: &'a [[f64; 2]],
    knot_grads: &'a [[[f64; 2]; 3]],
}

fn atom_gradient(prepared: &PreparedAtoms, i: usize, atom: &Atom, grad_y: &[f32]) -> Gradient {
    let gpu = &prepared.atoms[i];
    let partials = gpu.partial_first as usize..(gpu.partial_first + gpu.partial_count) as usize;
    let knots = gpu.knot_index as usize..(gpu.knot_index + gpu.knot_count) as usize;
    let view = AtomView {
        fs: prepared.rate as f64,
        atom,
        gpu,
        exact: &prepared.exact[i],
        partials: &prepared.partials[partials.clone()],
        exact_partials: &prepared.exact_partials[partials],
        knots: &prepared.knots[knots.clone()],
        knot_grads: &prepared.knot_grads[knots],
    };
    let start = (gpu.start as usize).min(grad_y.len());
    let end = (start + gpu.len as usize).min(grad_y.len());
    let mut sum = [0.0; 13];
    for (m, &g) in grad_y[start..end].iter().enumerate() {
        if g != 0.0 {
            let d = sample_derivatives(&view, m as u32);
            for (s, v) in sum.iter_mut().zip(d) {
                *s += g as f64 * v;
            }
        }
    }
    sum
}

/// ∂x[m]/∂θ for every θ of [`GRADIENT_FIELDS`] (the gains' entries are the
/// unnormalised burst and resonance themselves).
fn sample_derivatives(v: &AtomView, m: u32) -> Gradient {
    let mut d = [0.0; 13];
    let tau = (m as f64 + v.exact.frac) / v.fs;
    let (gb, gr) = (v.exact.burst_gain, v.exact.resonance_gain);
    let mut dx_dtau = 0.0;
    if gb != 0.0 && (v.gpu.burst_begin..v.gpu.burst_end).contains(&m) {
        let b = burst_derivatives(v, m, tau);
        d[field::BURST_GAIN] = b.value;
        d[field::ATTACK] += gb * b.attack;
        d[field::LENGTH] += gb * b.length;
        d[field::NOISE_CENTRE] = gb * b.centre;
        d[field::NOISE_WIDTH] = gb * b.width;
        dx_dtau += gb * b.tau;
    }
    if gr != 0.0 && !v.partials.is_empty() {
        let r = resonance_envelope(v, m);
        let s = partial_sums(v, m, tau);
        d[field::RESONANCE_GAIN] = r[0] * s.value;
        d[field::F0] = gr * r[0] * s.f0;
        d[field::SPACING] = gr * r[0] * s.spacing;
        d[field::ROLLOFF] = gr * r[0] * s.rolloff;
        d[field::BRIGHTNESS] = gr * r[0] * s.brightness;
        d[field::CLOSING] = gr * r[0] * s.closing;
        d[field::ATTACK] += gr * r[2] * s.value;
        d[field::LENGTH] += gr * r[3] * s.value;
        d[field::T60] = gr * r[4] * s.value;
        dx_dtau += gr * (r[1] * s.value + r[0] * s.tau);
    }
    // x depends on the onset only through τ = t - onset.
    d[field::ONSET] = -dx_dtau;
    d
}

/// The burst and its derivatives.
struct BurstDerivatives {
    value: f64,
    tau: f64,
    attack: f64,
    length: f64,
    centre: f64,
    width: f64,
}

fn burst_derivatives(v: &AtomView, m: u32, tau: f64) -> BurstDerivatives {
    let (attack, length) = (v.atom.attack as f64, v.atom.length as f64);
    let ln_e = envelope_ln(v.atom.envelope, attack, length, tau);
    let e = ln_e.exp();
    let (d_tau, d_attack, d_length) = envelope_ln_derivatives(v.atom, tau, ln_e);
    let noise = band_noise_derivatives(v, m);
    let width = v.atom.noise_width as f64;
    let dx_dtau = width / NOISE_GRID_TIMES_WIDTH;
    let centre = v.atom.noise_centre as f64;
    BurstDerivatives {
        value: e * noise.value,
        tau: e * (d_tau * noise.value + noise.d_grid * dx_dtau + noise.d_phase * centre),
        attack: e * d_attack * noise.value,
        length: e * d_length * noise.value,
        centre: e * noise.d_phase * tau,
        width: e * noise.d_grid * tau / NOISE_GRID_TIMES_WIDTH,
    }
}

/// ∂ ln e/∂(τ, attack, length). At attack = 0 (a pure exponential) the
/// attack derivative is unbounded and reported as 0.
fn envelope_ln_derivatives(atom: &Atom, tau: f64, ln_e: f64) -> (f64, f64, f64) {
    let (a, l) = (atom.attack as f64, atom.length as f64);
    match atom.envelope {
        super::Envelope::Gaussian => {
            let z = (tau - a) / (l * l);
            (-z, z, (tau - a) * (tau - a) / (l * l * l))
        }
        super::Envelope::Gamma if a > 0.0 => {
            if tau <= 0.0 {
                return (0.0, 0.0, 0.0);
            }
            ((a / l) / tau - 1.0 / l, (tau / a).ln() / l, -ln_e / l)
        }
        super::Envelope::Gamma => (-1.0 / l, 0.0, tau / (l * l)),
    }
}

/// Unit-variance band noise, and its derivatives with respect to the grid
/// position (per grid step) and the carrier phase (per cycle).
struct NoiseDerivatives {
    value: f64,
    d_grid: f64,
    d_phase: f64,
}

fn band_noise_derivatives(v: &AtomView, m: u32) -> NoiseDerivatives {
    let x = m as f64 * v.exact.grid_step + v.exact.grid_offset;
    let j = x.floor();
    let t = x - j;
    let w = super::cpu::bspline_weights(t);
    let dw = bspline_derivatives(t);
    let norm2: f64 = w.iter().map(|w| w * w).sum();
    let cross: f64 = w.iter().zip(&dw).map(|(a, b)| a * b).sum();
    let norm = norm2.sqrt();
    let stream = |key: u32| {
        let z: Vec<f64> = (0..4)
            .map(|i| grid_noise(key, (j as i64 - 1 + i) as u32))
            .collect();
        let p: f64 = w.iter().zip(&z).map(|(a, b)| a * b).sum();
        let dp: f64 = dw.iter().zip(&z).map(|(a, b)| a * b).sum();
        (p / norm, dp / norm - p * cross / (norm2 * norm))
    };
    let (c, dc) = stream(v.gpu.key_cos);
    let (s, ds) = stream(v.gpu.key_sin);
    let phase = (fixed_phase(m, v.gpu.carrier_step) + v.exact.carrier_offset).fract();
    let (sin, cos) = (TAU * phase).sin_cos();
    NoiseDerivatives {
        value: c * cos + s * sin,
        d_grid: dc * cos + ds * sin,
        d_phase: TAU * (-c * sin + s * cos),
    }
}

/// Derivatives of the cubic B-spline weights with respect to the fraction.
pub fn bspline_derivatives(t: f64) -> [f64; 4] {
    let s = 1.0 - t;
    [
        -0.5 * s * s,
        1.5 * t * t - 2.0 * t,
        -1.5 * t * t + t + 0.5,
        0.5 * t * t,
    ]
}

/// The derivative on [0, 1] of the cubic Hermite interpolant of [`hermite`].
pub fn hermite_slope(a: f64, da: f64, b: f64, db: f64, t: f64) -> f64 {
    let t2 = t * t;
    (6.0 * t2 - 6.0 * t) * a
        + (3.0 * t2 - 4.0 * t + 1.0) * da
        + (-6.0 * t2 + 6.0 * t) * b
        + (3.0 * t2 - 2.0 * t) * db
}

/// R and its derivatives: [R, ∂τ, ∂attack, ∂length, ∂t60].
fn resonance_envelope(v: &AtomView, m: u32) -> [f64; 5] {
    let first = v.gpu.knot_first as usize * KNOT_SPACING;
    let m = m as usize;
    if m < first {
        return [0.0; 5];
    }
    let offset = m - first;
    let j = offset / KNOT_SPACING;
    let interval = KNOT_SPACING as f64 / v.fs;
    if j + 1 >= v.knots.len() {
        let last = v.knots.len() - 1;
        let steps = (offset - last * KNOT_SPACING) as f64;
        let decay = (-v.exact.decay_step * steps).exp();
        let r = v.knots[last][0] * decay;
        let grads = &v.knot_grads[last];
        return [
            r,
            -v.exact.decay_step * v.fs * r,
            grads[0][0] * decay,
            grads[1][0] * decay,
            grads[2][0] * decay + r * steps * v.exact.decay_step / v.atom.t60 as f64,
        ];
    }
    let t = (offset % KNOT_SPACING) as f64 / KNOT_SPACING as f64;
    let (a, b) = (v.knots[j], v.knots[j + 1]);
    let (ga, gb) = (v.knot_grads[j], v.knot_grads[j + 1]);
    let along = |p: usize| hermite(ga[p][0], ga[p][1], gb[p][0], gb[p][1], t);
    [
        hermite(a[0], a[1], b[0], b[1], t),
        hermite_slope(a[0], a[1], b[0], b[1], t) / interval,
        along(0),
        along(1),
        along(2),
    ]
}

/// The partial sum S = Σ_k a_k g_k sin(2π φ_k) and its derivatives.
struct PartialSums {
    value: f64,
    tau: f64,
    f0: f64,
    spacing: f64,
    rolloff: f64,
    brightness: f64,
    closing: f64,
}

fn partial_sums(v: &AtomView, m: u32, tau: f64) -> PartialSums {
    let (f0, spacing) = (v.atom.f0 as f64, v.atom.spacing as f64);
    let (rolloff, brightness) = (v.atom.rolloff as f64, v.atom.brightness as f64);
    let closing = v.atom.closing as f64;
    let octaves = v.exact.closing_step * m as f64;
    let mut s = PartialSums {
        value: 0.0,
        tau: 0.0,
        f0: 0.0,
        spacing: 0.0,
        rolloff: 0.0,
        brightness: 0.0,
        closing: 0.0,
    };
    for (i, (p, e)) in v.partials.iter().zip(v.exact_partials).enumerate() {
        if !super::cpu::audible(p, v.exact, m) {
            break;
        }
        let k = i as f64;
        let f = f0 * (1.0 + k * spacing);
        let a = e.amplitude;
        let q = (e.lowpass + octaves).exp2();
        let g = 1.0 / (1.0 + q).sqrt();
        let dg_dq = -0.5 * g * g * g;
        let phase = (fixed_phase(m, p.step) + e.offset).fract();
        let (sin, cos) = (TAU * phase).sin_cos();
        let d_f = a * (dg_dq * 4.0 * q / f * sin + g * TAU * tau * cos);
        s.value += a * g * sin;
        s.tau += a * (dg_dq * q * LN_2 * 4.0 / closing * sin + g * TAU * f * cos);
        s.f0 += d_f * (1.0 + k * spacing);
        s.spacing += d_f * f0 * k;
        if i > 0 {
            s.rolloff += k * rolloff.powi(i as i32 - 1) * g * sin;
        }
        s.brightness += a * dg_dq * (-4.0 * q / brightness) * sin;
        s.closing += a * dg_dq * (-q * LN_2 * 4.0 * tau / (closing * closing)) * sin;
    }
    s
}
