// Atom rendering as a gather over time tiles: one workgroup per tile of
// TILE output samples, one invocation per sample, each summing every atom that
// the host listed as overlapping the tile (no float atomics needed). The model
// and its constants are documented in src/atoms/mod.rs and src/atoms/prepare.rs;
// src/atoms/cpu.rs evaluates the same formulas in f64.

const TILE: u32 = 256u;
const KNOT_SPACING: u32 = 64u;
const KNOT_SHIFT: u32 = 6u;
const TWO_PI: f32 = 6.283185307179586;
const INV_2_32: f32 = 2.3283064365386963e-10;
const SQRT_3: f32 = 1.7320508075688772;
const SHAPE_GAUSSIAN: u32 = 0u;
const SHAPE_EXPONENTIAL: u32 = 2u;
// LOWPASS_SILENT in src/atoms/prepare.rs: past it a partial, and all above it, are silent.
const LOWPASS_SILENT: f32 = 33.2;

struct GpuAtom {
    start: u32,
    len: u32,
    burst_begin: u32,
    burst_end: u32,
    shape: u32,
    env_peak: i32,
    env_offset: f32,
    env_scale: f32,
    env_power: f32,
    burst_gain: f32,
    resonance_gain: f32,
    key_cos: u32,
    key_sin: u32,
    grid_step_int: u32,
    grid_step_frac: u32,
    grid_offset: f32,
    carrier_step: u32,
    carrier_offset: f32,
    partial_first: u32,
    partial_count: u32,
    closing_step: f32,
    knot_index: u32,
    knot_first: u32,
    knot_count: u32,
    decay_step: f32,
    frac: f32,
    pad1: u32,
    pad2: u32,
}

struct GpuPartial {
    step: u32,
    offset: f32,
    amplitude: f32,
    lowpass: f32,
}

struct RenderParams {
    // Output sample of the first element of `output`.
    out_first: u32,
    // Samples in `output`.
    out_len: u32,
    // Workgroups per row of the 2-D dispatch.
    groups_x: u32,
    // 1: add to what `output` holds; 0: overwrite it.
    accumulate: u32,
}

@group(0) @binding(0) var<uniform> params: RenderParams;
@group(0) @binding(1) var<storage, read> atoms: array<GpuAtom>;
@group(0) @binding(2) var<storage, read> partials: array<GpuPartial>;
@group(0) @binding(3) var<storage, read> knots: array<vec2<f32>>;
// Atoms of tile t: tile_atoms[tile_offsets[t] .. tile_offsets[t + 1]].
@group(0) @binding(4) var<storage, read> tile_offsets: array<u32>;
@group(0) @binding(5) var<storage, read> tile_atoms: array<u32>;
@group(0) @binding(6) var<storage, read_write> output: array<f32>;

// Wellons' lowbias32, as `hash` in src/atoms/prepare.rs.
fn hash(v: u32) -> u32 {
    var x = v;
    x ^= x >> 16u;
    x *= 0x7feb352du;
    x ^= x >> 15u;
    x *= 0x846ca68bu;
    x ^= x >> 16u;
    return x;
}

// Unit-variance uniform noise at grid index j of stream `key`.
fn grid_noise(key: u32, j: u32) -> f32 {
    let h = hash(key ^ hash(j));
    let u = (f32(h >> 8u) + 0.5) / 16777216.0;
    return (2.0 * u - 1.0) * SQRT_3;
}

// The 64-bit product a*b as (low word, high word).
fn mul_wide(a: u32, b: u32) -> vec2<u32> {
    let a0 = a & 0xffffu;
    let a1 = a >> 16u;
    let b0 = b & 0xffffu;
    let b1 = b >> 16u;
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let p11 = a1 * b1;
    let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
    return vec2<u32>(a * b, p11 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u));
}

// sin and cos of a phase in cycles, reduced to [-pi, pi) where GPU
// transcendentals are accurate.
fn sin_cos_cycles(cycles: f32) -> vec2<f32> {
    let angle = TWO_PI * (cycles - round(cycles));
    return vec2<f32>(sin(angle), cos(angle));
}

// fract(m * step / 2^32 + offset): a fixed-point phase, exact before the offset.
fn fixed_phase(m: u32, step: u32, offset: f32) -> f32 {
    return fract(f32(m * step) * INV_2_32 + offset);
}

// ln(1 + x) - x, accurate near 0 where the subtraction would cancel.
fn log1p_minus_x(x: f32) -> f32 {
    if abs(x) < 0.1 {
        let x2 = x * x;
        return x2 * (-0.5 + x * (1.0 / 3.0 + x * (-0.25 + x * (0.2 + x * (-1.0 / 6.0
            + x * (1.0 / 7.0 - x * 0.125))))));
    }
    return log(1.0 + x) - x;
}

fn envelope(a: GpuAtom, m: u32) -> f32 {
    let x = (f32(i32(m) - a.env_peak) + a.env_offset) * a.env_scale;
    if a.shape == SHAPE_GAUSSIAN {
        return exp(-0.5 * x * x);
    }
    if a.shape == SHAPE_EXPONENTIAL {
        return exp(-x);
    }
    // Gamma: p (ln(τ/attack) - x) with x = τ/attack - 1. Far before the peak
    // take the log of τ/attack itself: with p < 1 the envelope rises steeply
    // from zero, and 1 + x would lose the digits that matter there.
    if x < -0.5 {
        let ratio = (f32(m) + a.frac) * a.env_scale;
        if ratio <= 0.0 {
            return 0.0;
        }
        return exp(a.env_power * (log(ratio) - x));
    }
    return exp(a.env_power * log1p_minus_x(x));
}

// Two cubic B-spline interpolated noise streams in quadrature on the carrier.
fn band_noise(a: GpuAtom, m: u32) -> f32 {
    let wide = mul_wide(m, a.grid_step_frac);
    let grid_int = m * a.grid_step_int + wide.y;
    let x = f32(wide.x) * INV_2_32 + a.grid_offset;
    let whole = floor(x);
    let t = x - whole;
    let j = grid_int + u32(whole) - 1u;
    let s = 1.0 - t;
    let w = vec4<f32>(
        s * s * s / 6.0,
        (3.0 * t * t * t - 6.0 * t * t + 4.0) / 6.0,
        (-3.0 * t * t * t + 3.0 * t * t + 3.0 * t + 1.0) / 6.0,
        t * t * t / 6.0,
    );
    let zc = vec4<f32>(grid_noise(a.key_cos, j), grid_noise(a.key_cos, j + 1u),
        grid_noise(a.key_cos, j + 2u), grid_noise(a.key_cos, j + 3u));
    let zs = vec4<f32>(grid_noise(a.key_sin, j), grid_noise(a.key_sin, j + 1u),
        grid_noise(a.key_sin, j + 2u), grid_noise(a.key_sin, j + 3u));
    let carrier = sin_cos_cycles(fixed_phase(m, a.carrier_step, a.carrier_offset));
    return (dot(w, zc) * carrier.y + dot(w, zs) * carrier.x) * inverseSqrt(dot(w, w));
}

// The resonance envelope: Hermite between knots, exponential after the last.
fn resonance_envelope(a: GpuAtom, m: u32) -> f32 {
    let first = a.knot_first * KNOT_SPACING;
    if m < first {
        return 0.0;
    }
    let offset = m - first;
    let j = offset >> KNOT_SHIFT;
    if j + 1u >= a.knot_count {
        let last = a.knot_count - 1u;
        let r = knots[a.knot_index + last].x;
        return r * exp(-a.decay_step * f32(offset - last * KNOT_SPACING));
    }
    let t = f32(offset & (KNOT_SPACING - 1u)) / f32(KNOT_SPACING);
    let k0 = knots[a.knot_index + j];
    let k1 = knots[a.knot_index + j + 1u];
    let t2 = t * t;
    let t3 = t2 * t;
    return (2.0 * t3 - 3.0 * t2 + 1.0) * k0.x + (t3 - 2.0 * t2 + t) * k0.y
        + (-2.0 * t3 + 3.0 * t2) * k1.x + (t3 - t2) * k1.y;
}

fn partial_sum(a: GpuAtom, m: u32) -> f32 {
    let octaves = a.closing_step * f32(m);
    var sum = 0.0;
    for (var k = 0u; k < a.partial_count; k++) {
        let p = partials[a.partial_first + k];
        let exponent = p.lowpass + octaves;
        if exponent > LOWPASS_SILENT {
            break;
        }
        let gain = inverseSqrt(1.0 + exp2(exponent));
        sum += p.amplitude * gain * sin_cos_cycles(fixed_phase(m, p.step, p.offset)).x;
    }
    return sum;
}

// The atom's value at its sample m (m < len).
fn atom_sample(a: GpuAtom, m: u32) -> f32 {
    var value = 0.0;
    if a.burst_gain != 0.0 && m >= a.burst_begin && m < a.burst_end {
        value += a.burst_gain * envelope(a, m) * band_noise(a, m);
    }
    if a.resonance_gain != 0.0 && a.partial_count > 0u {
        value += a.resonance_gain * resonance_envelope(a, m) * partial_sum(a, m);
    }
    return value;
}

@compute @workgroup_size(256)
fn render(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let tile = group.x + group.y * params.groups_x;
    let local = tile * TILE + lane;
    if local >= params.out_len {
        return;
    }
    let n = params.out_first + local;
    var sum = 0.0;
    for (var i = tile_offsets[tile]; i < tile_offsets[tile + 1u]; i++) {
        let a = atoms[tile_atoms[i]];
        if n >= a.start && n - a.start < a.len {
            sum += atom_sample(a, n - a.start);
        }
    }
    if params.accumulate != 0u {
        sum += output[local];
    }
    output[local] = sum;
}
