//! Host-side preparation of atoms for rendering: everything about an atom that
//! does not depend on the sample being rendered, computed once in f64.
//!
//! Both renderers read the same prepared atoms, so they differ only in the
//! arithmetic of the per-sample evaluation (f64 on the CPU, f32 on the GPU):
//!
//! - sample positions: an atom starts at output sample `start = ceil(onset·fs)`
//!   and its sample `m` sits at `τ = (m + frac)/fs` after the onset;
//! - phases: every oscillation (partials, the noise band's carrier, the noise
//!   grid) advances by a 32.32 fixed-point increment per sample, so the phase at
//!   sample `m` is exact in integer arithmetic however long the atom rings;
//! - the resonance envelope `R = e ∗ exp(-βτ)`: tabulated while the burst lasts
//!   (values and slopes every [`KNOT_SPACING`] samples, interpolated by cubic
//!   Hermite), then `R_tail · exp(-β (τ - τ_tail))` in closed form;
//! - the nominal energies that normalise the burst and the resonance.

use super::{Atom, Envelope};
use crate::error::Result;

/// Samples between the resonance envelope's tabulated points.
pub const KNOT_SPACING: usize = 64;
/// Most partials an atom's resonance has.
pub const MAX_PARTIALS: usize = 64;
/// Below this (relative to the peak) the burst envelope counts as silent: -80 dB.
const ENVELOPE_FLOOR_LN: f64 = -9.210_340_371_976_184;
/// Partials weaker than this at the onset (roll-off times low-pass) are left out.
const PARTIAL_FLOOR: f64 = 1.0e-4;
/// Once the low-pass exponent 4·log2(f/c) passes this (a gain below 1e-5,
/// -100 dB), a partial and every partial above it are silent from then on:
/// both renderers stop summing there.
pub const LOWPASS_SILENT: f32 = 33.2;
/// Gauss-Legendre pieces over the resonance's closed-form tail.
const TAIL_PIECES: usize = 32;
/// The resonance is rendered until it has decayed by this many dB after the burst.
const TAIL_DB: f64 = 80.0;
/// Noise grid spacing times the band width: the cubic B-spline interpolated
/// noise then has its -3 dB points at ±width/2 (measured by a test).
pub const NOISE_GRID_TIMES_WIDTH: f64 = 0.455;
/// ln(1000): T60 to a decay rate.
const LN_1000: f64 = 6.907_755_278_982_137;
/// Longest atom, samples (about 3 hours at 192 kHz: beyond every field range).
const MAX_ATOM_SAMPLES: f64 = 2.0e9;

/// How the burst envelope is evaluated at sample `m`, from `x = (m - peak + offset)·scale`:
/// gaussian `-x²/2`; gamma `p (ln(1+x) - x)`; exponential (gamma without attack) `-x`.
pub const SHAPE_GAUSSIAN: u32 = 0;
pub const SHAPE_GAMMA: u32 = 1;
pub const SHAPE_EXPONENTIAL: u32 = 2;

/// One prepared atom, laid out as the GPU reads it (keep in sync with
/// `GpuAtom` in shaders/atoms.wgsl; a test checks the size).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub struct GpuAtom {
    /// First output sample.
    pub start: u32,
    /// Samples the atom lasts.
    pub len: u32,
    /// Samples `[burst_begin, burst_end)` where the burst envelope is above the floor.
    pub burst_begin: u32,
    pub burst_end: u32,
    /// Envelope: `shape`, the integer sample of its reference point, the
    /// fractional offset and scale of `x`, and the gamma exponent.
    pub shape: u32,
    pub env_peak: i32,
    pub env_offset: f32,
    pub env_scale: f32,
    pub env_power: f32,
    /// Scale of the normalised burst and resonance in the output.
    pub burst_gain: f32,
    pub resonance_gain: f32,
    /// Noise: hash keys of the cosine and sine components, the grid step per
    /// sample (integer and 0.32 fixed-point parts), the grid position at m = 0.
    pub key_cos: u32,
    pub key_sin: u32,
    pub grid_step_int: u32,
    pub grid_step_frac: u32,
    pub grid_offset: f32,
    /// Carrier of the noise band: 0.32 phase step and phase at m = 0 (cycles).
    pub carrier_step: u32,
    pub carrier_offset: f32,
    /// Partials `[partial_first, partial_first + partial_count)` of the partial table.
    pub partial_first: u32,
    pub partial_count: u32,
    /// Low-pass closing: exponent growth per sample (4/(fs closing)).
    pub closing_step: f32,
    /// Knots `[knot_first_index, +knot_count)` of the knot table; knot i sits
    /// at sample `(knot_first + i)·KNOT_SPACING`.
    pub knot_index: u32,
    pub knot_first: u32,
    pub knot_count: u32,
    /// Decay per sample after the last knot (β/fs).
    pub decay_step: f32,
    /// Fraction of a sample from the onset to sample 0 (τ·fs = m + frac).
    pub frac: f32,
    pub _pad: [u32; 2],
}

/// One partial of a resonance (keep in sync with `GpuPartial` in shaders/atoms.wgsl).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub struct GpuPartial {
    /// Phase step per sample, 0.32 fixed point (cycles).
    pub step: u32,
    /// Phase at m = 0, cycles in [0, 1).
    pub offset: f32,
    /// Roll-off amplitude rolloff^(k-1).
    pub amplitude: f32,
    /// Low-pass exponent at m = 0: 4 log2(f_k / c(τ_0)).
    pub lowpass: f32,
}

/// Atoms ready for either renderer: the GPU layout plus the f64 values the
/// CPU reference uses where f32 would lose accuracy.
#[derive(Clone, Debug, Default)]
pub struct PreparedAtoms {
    pub rate: u32,
    pub atoms: Vec<GpuAtom>,
    pub partials: Vec<GpuPartial>,
    /// (R, slope · KNOT_SPACING/fs) at each knot, f64.
    pub knots: Vec<[f64; 2]>,
    /// The partials' phase offsets and low-pass exponents in f64, parallel
    /// to `partials` (whose f32 copies the GPU reads).
    pub exact_partials: Vec<ExactPartial>,
    /// ∂/∂(attack, length, t60) of each knot's pair (only from
    /// [`prepare_for_gradient`]).
    pub knot_grads: Vec<[[f64; 2]; 3]>,
    /// Per atom: (frac, the partial and carrier phase offsets are in `atoms`).
    pub exact: Vec<ExactAtom>,
}

/// A partial's values in f64 (the CPU reference's view of [`GpuPartial`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct ExactPartial {
    pub offset: f64,
    pub amplitude: f64,
    pub lowpass: f64,
}

/// The f64 values of an atom's placement and envelope (the CPU reference's view).
#[derive(Clone, Copy, Debug, Default)]
pub struct ExactAtom {
    /// Fraction of a sample from the onset to the first rendered sample.
    pub frac: f64,
    pub envelope: Envelope,
    /// Attack and length, seconds.
    pub attack: f64,
    pub length: f64,
    /// Noise grid step per sample and grid position at m = 0.
    pub grid_step: f64,
    pub grid_offset: f64,
    /// Carrier phase at m = 0, cycles.
    pub carrier_offset: f64,
    /// Resonance decay and low-pass closing per sample.
    pub decay_step: f64,
    pub closing_step: f64,
    /// Scales of the normalised burst and resonance.
    pub burst_gain: f64,
    pub resonance_gain: f64,
}

impl PreparedAtoms {
    /// Appends `other`'s atoms, re-basing their table indices.
    fn append(&mut self, other: PreparedAtoms) {
        let (partials, knots) = (self.partials.len() as u32, self.knots.len() as u32);
        self.atoms.extend(other.atoms.into_iter().map(|mut a| {
            a.partial_first += partials;
            a.knot_index += knots;
            a
        }));
        self.partials.extend(other.partials);
        self.exact_partials.extend(other.exact_partials);
        self.knots.extend(other.knots);
        self.knot_grads.extend(other.knot_grads);
        self.exact.extend(other.exact);
    }
}

/// Prepares `atoms` for rendering at `rate` (checking every field first).
pub fn prepare(atoms: &[Atom], rate: u32) -> Result<PreparedAtoms> {
    prepare_all(atoms, rate, None, false)
}

/// Prepares atoms whose burst and resonance gains are given directly (the
/// parametrisation the encoder optimises: `amplitude` and `mix` are ignored),
/// with the tables [`super::grad`] needs.
pub fn prepare_for_gradient(
    atoms: &[Atom],
    gains: &[[f64; 2]],
    rate: u32,
) -> Result<PreparedAtoms> {
    if gains.len() != atoms.len() || gains.iter().flatten().any(|g| !g.is_finite()) {
        return Err(crate::error::Error::invalid(
            "gains",
            format!(
                "{} finite (burst, resonance) pairs for {} atoms",
                gains.len(),
                atoms.len()
            ),
        ));
    }
    prepare_all(atoms, rate, Some(gains), true)
}

/// The (burst, resonance) gains of prepared atoms: `amplitude`·√fs·cos or sin
/// of the mix angle over the nominal energies' square roots.
pub fn gains_of(prepared: &PreparedAtoms) -> Vec<[f64; 2]> {
    prepared
        .exact
        .iter()
        .map(|e| [e.burst_gain, e.resonance_gain])
        .collect()
}

/// The atom with shape `shape` whose burst and resonance gains are `gains`:
/// the amplitude and mix that [`prepare`] turns back into those gains.
pub fn atom_with_gains(shape: &Atom, gains: [f64; 2], rate: u32) -> Result<Atom> {
    let unit = Atom {
        amplitude: 1.0,
        mix: 0.5,
        ..*shape
    };
    let unit_gains = gains_of(&prepare(&[unit], rate)?)[0];
    // Unit amplitude at mix 0.5 gives gain √(fs/2)/√E for each part.
    let half = (rate as f64 / 2.0).sqrt();
    let scale = |g: f64, unit_g: f64| if unit_g > 0.0 { g * half / unit_g } else { 0.0 };
    let (burst, resonance) = (
        scale(gains[0], unit_gains[0]),
        scale(gains[1], unit_gains[1]),
    );
    // burst = A√fs cos θ, resonance = A√fs sin θ (in energy-normalised units).
    let level = (burst * burst + resonance * resonance).sqrt();
    let amplitude = level / (rate as f64).sqrt();
    let mix = resonance.atan2(burst) / std::f64::consts::FRAC_PI_2;
    Ok(Atom {
        amplitude: amplitude as f32,
        mix: mix.clamp(0.0, 1.0) as f32,
        ..*shape
    })
}

fn prepare_all(
    atoms: &[Atom],
    rate: u32,
    gains: Option<&[[f64; 2]]>,
    knot_derivatives: bool,
) -> Result<PreparedAtoms> {
    super::validate_all(atoms, rate)?;
    // Small lists are not worth a thread each.
    let parts = super::map_chunks(atoms, 0, 64, |first, chunk| {
        let mut part = PreparedAtoms::default();
        for (i, atom) in chunk.iter().enumerate() {
            let options = PrepareOptions {
                gains: gains.map(|g| g[first + i]),
                knot_derivatives,
            };
            prepare_one(atom, rate as f64, options, &mut part);
        }
        part
    });
    let mut out = PreparedAtoms {
        rate,
        ..Default::default()
    };
    for part in parts {
        out.append(part);
    }
    Ok(out)
}

/// 32.32 fixed point of a per-sample step in cycles: (integer, fraction).
pub fn fixed_step(cycles_per_sample: f64) -> (u32, u32) {
    let int = cycles_per_sample.floor();
    let frac = ((cycles_per_sample - int) * 4_294_967_296.0).round();
    if frac >= 4_294_967_296.0 {
        (int as u32 + 1, 0)
    } else {
        (int as u32, frac as u32)
    }
}

/// The exact f64 value of a fixed-point step.
pub fn fixed_value(step: (u32, u32)) -> f64 {
    step.0 as f64 + step.1 as f64 / 4_294_967_296.0
}

/// The 0.32 fixed-point phase of `m` steps, in cycles in [0, 1).
pub fn fixed_phase(m: u32, step_frac: u32) -> f64 {
    m.wrapping_mul(step_frac) as f64 / 4_294_967_296.0
}

/// The burst envelope's natural log at τ seconds after the onset.
pub fn envelope_ln(envelope: Envelope, attack: f64, length: f64, tau: f64) -> f64 {
    match envelope {
        Envelope::Gaussian => {
            let x = (tau - attack) / length;
            -0.5 * x * x
        }
        Envelope::Gamma if attack > 0.0 => {
            if tau <= 0.0 {
                return f64::NEG_INFINITY;
            }
            let p = attack / length;
            let v = tau / attack - 1.0;
            p * (v.ln_1p() - v)
        }
        Envelope::Gamma => -tau / length,
    }
}

/// Where the envelope is above the floor, seconds: (begin, end).
fn burst_span(envelope: Envelope, attack: f64, length: f64) -> (f64, f64) {
    match envelope {
        Envelope::Gaussian => {
            let half = length * (-2.0 * ENVELOPE_FLOOR_LN).sqrt();
            ((attack - half).max(0.0), attack + half)
        }
        Envelope::Gamma if attack > 0.0 => {
            let above = |tau: f64| envelope_ln(envelope, attack, length, tau) > ENVELOPE_FLOOR_LN;
            let end = bisect(attack, attack + length, above, true);
            let begin = bisect(attack, 0.0, above, false);
            (begin, end)
        }
        Envelope::Gamma => (0.0, -ENVELOPE_FLOOR_LN * length),
    }
}

/// The point where `above` changes, searching from `inside` (where it holds)
/// towards `outside` (grown away from `inside` until `above` fails, if `grow`).
fn bisect(inside: f64, mut outside: f64, above: impl Fn(f64) -> bool, grow: bool) -> f64 {
    let mut lo = inside;
    if grow {
        while above(outside) {
            outside = inside + 2.0 * (outside - inside);
        }
    } else if above(outside) {
        return outside;
    }
    let mut hi = outside;
    for _ in 0..64 {
        let mid = 0.5 * (lo + hi);
        if above(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

/// Gauss-Legendre nodes and weights on [0, 1], 8 points.
const GAUSS8: [(f64, f64); 8] = {
    const X: [f64; 4] = [
        0.183_434_642_495_649_8,
        0.525_532_409_916_329,
        0.796_666_477_413_626_7,
        0.960_289_856_497_536_3,
    ];
    const W: [f64; 4] = [
        0.362_683_783_378_362,
        0.313_706_645_877_887_3,
        0.222_381_034_453_374_5,
        0.101_228_536_290_376_3,
    ];
    let mut out = [(0.0, 0.0); 8];
    let mut i = 0;
    while i < 4 {
        out[2 * i] = (0.5 - 0.5 * X[i], 0.5 * W[i]);
        out[2 * i + 1] = (0.5 + 0.5 * X[i], 0.5 * W[i]);
        i += 1;
    }
    out
};

/// Cubic Hermite interpolation on [0, 1] of values `a`, `b` with slopes
/// (already scaled to the interval) `da`, `db`.
pub fn hermite(a: f64, da: f64, b: f64, db: f64, t: f64) -> f64 {
    let t2 = t * t;
    let t3 = t2 * t;
    (2.0 * t3 - 3.0 * t2 + 1.0) * a
        + (t3 - 2.0 * t2 + t) * da
        + (-2.0 * t3 + 3.0 * t2) * b
        + (t3 - t2) * db
}

/// The counter-based hash behind every random choice of an atom (Wellons'
/// lowbias32), identical in shaders/atoms.wgsl.
pub fn hash(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^= x >> 16;
    x
}

/// Stream keys derived from an atom's seed.
const STREAM_COS: u32 = 0x6e6f_6963;
const STREAM_SIN: u32 = 0x6e6f_6973;
const STREAM_PHASE: u32 = 0x7068_6173;

/// Uniform noise of unit variance at grid index `j` of the stream `key`.
pub fn grid_noise(key: u32, j: u32) -> f64 {
    let h = hash(key ^ hash(j));
    let u = ((h >> 8) as f64 + 0.5) / 16_777_216.0;
    (2.0 * u - 1.0) * 3f64.sqrt()
}

/// The random phase (cycles) of partial `k` (from 1) of the atom seeded `seed`.
fn partial_phase(seed: u32, k: u32) -> f64 {
    (hash(hash(seed ^ STREAM_PHASE) ^ k) >> 8) as f64 / 16_777_216.0
}

/// The resonance envelope R = e ∗ exp(-βτ) and its slope (scaled to a knot
/// interval) at knots `knots` of an atom whose envelope is `(shape, attack,
/// length)` and decay `t60` (seconds).
fn resonance_knots(
    (envelope, attack, length, t60): (Envelope, f64, f64, f64),
    fs: f64,
    frac: f64,
    knots: std::ops::RangeInclusive<usize>,
) -> Vec<[f64; 2]> {
    let beta = LN_1000 / t60;
    let env = |m: f64| envelope_ln(envelope, attack, length, (m + frac) / fs).exp();
    let h = KNOT_SPACING as f64;
    let first = *knots.start();
    let mut r = 0.0;
    knots
        .map(|j| {
            let m = (j * KNOT_SPACING) as f64;
            if j > first {
                // R(m) = R(m-h) e^{-βh/fs} + ∫ e(s) e^{-β(τ_m - s)} ds over the step.
                let step = integrate(m - h, m, |s| env(s) * (-beta * (m - s) / fs).exp());
                r = r * (-beta * h / fs).exp() + step / fs;
            }
            [r, (env(m) - beta * r) * h / fs]
        })
        .collect()
}

/// Relative step of the central differences that give ∂R/∂(attack, length, t60).
const KNOT_DIFFERENCE_STEP: f64 = 1e-5;

/// ∂(R, slope)/∂(attack, length, t60) at every knot, by central differences
/// of the f64 tabulation on the same knots (one-sided at attack = 0).
fn knot_derivatives(
    knots: &[[f64; 2]],
    atom: &Atom,
    resonance_at: impl Fn(f64, f64, f64) -> Vec<[f64; 2]>,
) -> Vec<[[f64; 2]; 3]> {
    let base = [atom.attack as f64, atom.length as f64, atom.t60 as f64];
    let mut out = vec![[[0.0; 2]; 3]; knots.len()];
    for p in 0..3 {
        let h = KNOT_DIFFERENCE_STEP * base[p].max(1e-3);
        let shifted = |delta: f64| {
            let mut v = base;
            v[p] += delta;
            resonance_at(v[0], v[1], v[2])
        };
        let (lo, lo_delta) = if base[p] - h > 0.0 {
            (shifted(-h), h)
        } else {
            (knots.to_vec(), 0.0)
        };
        let hi = shifted(h);
        for (j, d) in out.iter_mut().enumerate() {
            for c in 0..2 {
                d[p][c] = (hi[j][c] - lo[j][c]) / (h + lo_delta);
            }
        }
    }
    out
}

/// What [`prepare_one`] computes besides the renderers' tables.
#[derive(Clone, Copy, Debug, Default)]
struct PrepareOptions {
    /// Use these (burst, resonance) gains instead of normalising by energy.
    gains: Option<[f64; 2]>,
    /// Also tabulate ∂R/∂(attack, length, t60) (for gradients).
    knot_derivatives: bool,
}

/// Everything about one atom that the renderers need, appended to `out`.
fn prepare_one(atom: &Atom, fs: f64, options: PrepareOptions, out: &mut PreparedAtoms) {
    let onset = atom.onset as f64 * fs;
    let start = onset.ceil();
    let frac = start - onset;
    let attack = atom.attack as f64;
    let length = atom.length as f64;
    let (begin_s, end_s) = burst_span(atom.envelope, attack, length);
    let burst_begin = ((begin_s * fs - frac).floor().max(0.0)) as u32;
    let burst_end = (end_s * fs - frac).ceil().clamp(1.0, MAX_ATOM_SAMPLES) as u32;
    let beta = LN_1000 / atom.t60 as f64;
    let tau_at = |m: f64| (m + frac) / fs;
    let env = |tau: f64| envelope_ln(atom.envelope, attack, length, tau).exp();
    let mix_angle = std::f64::consts::FRAC_PI_2 * atom.mix as f64;
    let has_resonance = match options.gains {
        Some([_, resonance]) => resonance != 0.0,
        None => atom.mix > 0.0,
    };

    let partials = partial_list(atom, fs);
    let tail = if has_resonance && !partials.is_empty() {
        TAIL_DB / 60.0 * atom.t60 as f64 * fs
    } else {
        0.0
    };
    let len = ((burst_end as f64 + tail).ceil()).min(MAX_ATOM_SAMPLES) as u32;

    // The resonance envelope at knots from the burst's start to just past its end.
    let knot_first = burst_begin as usize / KNOT_SPACING;
    let knot_last = (burst_end as usize).div_ceil(KNOT_SPACING);
    let knot_index = out.knots.len();
    let resonance_at = |attack: f64, length: f64, t60: f64| {
        let shape = (atom.envelope, attack, length, t60);
        resonance_knots(shape, fs, frac, knot_first..=knot_last)
    };
    let knots = resonance_at(attack, length, atom.t60 as f64);
    if options.knot_derivatives {
        out.knot_grads
            .extend(knot_derivatives(&knots, atom, resonance_at));
    }

    let closing_step = 4.0 / (fs * atom.closing as f64);
    let tau0_octaves = 4.0 * frac / (fs * atom.closing as f64);
    let exact_partials: Vec<ExactPartial> = partials
        .iter()
        .enumerate()
        .map(|(i, &(f, a))| ExactPartial {
            offset: (f * frac / fs + partial_phase(atom.seed, i as u32 + 1)).fract(),
            amplitude: a,
            lowpass: 4.0 * (f / atom.brightness as f64).log2() + tau0_octaves,
        })
        .collect();
    let gpu_partials: Vec<GpuPartial> = partials
        .iter()
        .zip(&exact_partials)
        .map(|(&(f, _), e)| GpuPartial {
            step: fixed_step(f / fs).1,
            offset: e.offset as f32,
            amplitude: e.amplitude as f32,
            lowpass: e.lowpass as f32,
        })
        .collect();

    let m_tail = (knot_last * KNOT_SPACING) as f64;
    // Nominal energies, only needed to turn amplitude and mix into gains.
    let burst_energy = if options.gains.is_none() {
        integrate(burst_begin as f64, burst_end as f64, |m| {
            let e = env(tau_at(m));
            e * e
        })
    } else {
        0.0
    };
    let resonance_energy = if has_resonance && options.gains.is_none() {
        resonance_energy(&knots, knot_first, m_tail, len as f64, beta / fs, |m| {
            // Half the sum of squared partial gains at sample m (mean of sin²).
            let octaves = closing_step * m;
            0.5 * gpu_partials
                .iter()
                .take_while(|p| p.lowpass + (octaves as f32) <= LOWPASS_SILENT)
                .map(|p| {
                    let a = p.amplitude as f64;
                    a * a / (1.0 + (p.lowpass as f64 + octaves).exp2())
                })
                .sum::<f64>()
        })
    } else {
        0.0
    };

    let level = atom.amplitude as f64 * fs.sqrt();
    let gain = |weight: f64, energy: f64| {
        if energy > 0.0 && weight > 1e-12 {
            level * weight / energy.sqrt()
        } else {
            0.0
        }
    };
    let [burst_gain, resonance_gain] = options.gains.unwrap_or([
        gain(mix_angle.cos(), burst_energy),
        gain(mix_angle.sin(), resonance_energy),
    ]);

    let grid_step = fixed_step(atom.noise_width as f64 / (NOISE_GRID_TIMES_WIDTH * fs));
    let grid_offset = frac * fixed_value(grid_step);
    let carrier_step = fixed_step(atom.noise_centre as f64 / fs);
    let carrier_offset = (frac * fixed_value(carrier_step)).fract();

    let (shape, env_peak, env_offset, env_scale) = envelope_coordinates(atom, fs, frac);
    out.atoms.push(GpuAtom {
        start: start as u32,
        len,
        burst_begin,
        burst_end: burst_end.min(len),
        shape,
        env_peak,
        env_offset: env_offset as f32,
        env_scale: env_scale as f32,
        env_power: (attack / length) as f32,
        burst_gain: burst_gain as f32,
        resonance_gain: resonance_gain as f32,
        key_cos: hash(atom.seed ^ STREAM_COS),
        key_sin: hash(atom.seed ^ STREAM_SIN),
        grid_step_int: grid_step.0,
        grid_step_frac: grid_step.1,
        grid_offset: grid_offset as f32,
        carrier_step: carrier_step.1,
        carrier_offset: carrier_offset as f32,
        partial_first: out.partials.len() as u32,
        partial_count: if has_resonance {
            gpu_partials.len() as u32
        } else {
            0
        },
        closing_step: closing_step as f32,
        knot_index: knot_index as u32,
        knot_first: knot_first as u32,
        knot_count: knots.len() as u32,
        decay_step: (beta / fs) as f32,
        frac: frac as f32,
        _pad: [0; 2],
    });
    out.exact.push(ExactAtom {
        frac,
        envelope: atom.envelope,
        attack,
        length,
        grid_step: fixed_value(grid_step),
        grid_offset,
        carrier_offset,
        decay_step: beta / fs,
        closing_step,
        burst_gain,
        resonance_gain,
    });
    if has_resonance {
        out.partials.extend(gpu_partials);
        out.exact_partials.extend(exact_partials);
    }
    out.knots.extend(knots);
}

/// The partials (frequency, roll-off amplitude) below Nyquist and above the floor.
fn partial_list(atom: &Atom, fs: f64) -> Vec<(f64, f64)> {
    let f0 = atom.f0 as f64;
    let brightness = atom.brightness as f64;
    (0..MAX_PARTIALS)
        .map(|i| {
            let f = f0 * (1.0 + i as f64 * atom.spacing as f64);
            let a = (atom.rolloff as f64).powi(i as i32);
            (f, a)
        })
        .take_while(|&(f, a)| {
            let lowpass = 1.0 / (1.0 + (f / brightness).powi(4)).sqrt();
            f < 0.5 * fs && a * lowpass >= PARTIAL_FLOOR
        })
        .collect()
}

/// Integral over samples [a, b] of `f`, by 8-point Gauss-Legendre on
/// knot-sized pieces (the sum over samples, as an integral).
fn integrate(a: f64, b: f64, f: impl Fn(f64) -> f64) -> f64 {
    let pieces = ((b - a) / KNOT_SPACING as f64).ceil().max(1.0) as usize;
    integrate_pieces(a, b, pieces, f)
}

/// Integral over [a, b] of `f` by 8-point Gauss-Legendre on `pieces` pieces.
fn integrate_pieces(a: f64, b: f64, pieces: usize, f: impl Fn(f64) -> f64) -> f64 {
    if b <= a {
        return 0.0;
    }
    let width = (b - a) / pieces as f64;
    let mut sum = 0.0;
    for p in 0..pieces {
        let lo = a + p as f64 * width;
        sum += GAUSS8
            .iter()
            .map(|&(x, w)| w * f(lo + x * width))
            .sum::<f64>();
    }
    sum * width
}

/// Nominal energy of the resonance: ∫ R(m)² S(m) dm over the knots and the
/// tail, with `half_gains(m)` = S(m) = ½ Σ_k a_k² g_k(m)².
fn resonance_energy(
    knots: &[[f64; 2]],
    knot_first: usize,
    m_tail: f64,
    len: f64,
    decay_step: f64,
    half_gains: impl Fn(f64) -> f64,
) -> f64 {
    let h = KNOT_SPACING as f64;
    let mut sum = 0.0;
    for (j, pair) in knots.windows(2).enumerate() {
        let lo = ((knot_first + j) * KNOT_SPACING) as f64;
        sum += integrate(lo, lo + h, |m| {
            let r = hermite(pair[0][0], pair[0][1], pair[1][0], pair[1][1], (m - lo) / h);
            r * r * half_gains(m)
        });
    }
    let r_tail = knots.last().map_or(0.0, |k| k[0]);
    sum + integrate_pieces(m_tail, len.max(m_tail), TAIL_PIECES, |m| {
        let r = r_tail * (-decay_step * (m - m_tail)).exp();
        r * r * half_gains(m)
    })
}

/// The envelope in the GPU's coordinates: x = (m - peak + offset)·scale, with
/// `peak` an integer sample so that x is accurate in f32 near the peak.
fn envelope_coordinates(atom: &Atom, fs: f64, frac: f64) -> (u32, i32, f64, f64) {
    let attack = atom.attack as f64 * fs;
    let length = atom.length as f64 * fs;
    // τ·fs = m + frac; x = (m + frac - attack)/width.
    let anchor = |reference: f64| {
        let peak = (reference - frac).floor();
        (peak, frac - (reference - peak))
    };
    match atom.envelope {
        Envelope::Gaussian => {
            let (peak, offset) = anchor(attack);
            (SHAPE_GAUSSIAN, peak as i32, offset, 1.0 / length)
        }
        Envelope::Gamma if attack > 0.0 => {
            let (peak, offset) = anchor(attack);
            (SHAPE_GAMMA, peak as i32, offset, 1.0 / attack)
        }
        Envelope::Gamma => (SHAPE_EXPONENTIAL, 0, frac, 1.0 / length),
    }
}
