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

// The noise grid around sample m: the fraction t between grid points and the
// two streams' values at the four points around it.
struct GridPoint {
    t: f32,
    zc: vec4<f32>,
    zs: vec4<f32>,
}

fn grid_point(a: GpuAtom, m: u32) -> GridPoint {
    let wide = mul_wide(m, a.grid_step_frac);
    let grid_int = m * a.grid_step_int + wide.y;
    let x = f32(wide.x) * INV_2_32 + a.grid_offset;
    let whole = floor(x);
    let j = grid_int + u32(whole) - 1u;
    let zc = vec4<f32>(grid_noise(a.key_cos, j), grid_noise(a.key_cos, j + 1u),
        grid_noise(a.key_cos, j + 2u), grid_noise(a.key_cos, j + 3u));
    let zs = vec4<f32>(grid_noise(a.key_sin, j), grid_noise(a.key_sin, j + 1u),
        grid_noise(a.key_sin, j + 2u), grid_noise(a.key_sin, j + 3u));
    return GridPoint(x - whole, zc, zs);
}

fn bspline_weights(t: f32) -> vec4<f32> {
    let s = 1.0 - t;
    return vec4<f32>(
        s * s * s / 6.0,
        (3.0 * t * t * t - 6.0 * t * t + 4.0) / 6.0,
        (-3.0 * t * t * t + 3.0 * t * t + 3.0 * t + 1.0) / 6.0,
        t * t * t / 6.0,
    );
}

// Two cubic B-spline interpolated noise streams in quadrature on the carrier.
fn band_noise(a: GpuAtom, m: u32) -> f32 {
    let g = grid_point(a, m);
    let w = bspline_weights(g.t);
    let carrier = sin_cos_cycles(fixed_phase(m, a.carrier_step, a.carrier_offset));
    return (dot(w, g.zc) * carrier.y + dot(w, g.zs) * carrier.x) * inverseSqrt(dot(w, w));
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
    return hermite(knots[a.knot_index + j], knots[a.knot_index + j + 1u], t);
}

// Cubic Hermite on [0, 1] between (value, scaled slope) pairs k0 and k1.
fn hermite(k0: vec2<f32>, k1: vec2<f32>, t: f32) -> f32 {
    let t2 = t * t;
    let t3 = t2 * t;
    return (2.0 * t3 - 3.0 * t2 + 1.0) * k0.x + (t3 - 2.0 * t2 + t) * k0.y
        + (-2.0 * t3 + 3.0 * t2) * k1.x + (t3 - t2) * k1.y;
}

// Its derivative in t.
fn hermite_slope(k0: vec2<f32>, k1: vec2<f32>, t: f32) -> f32 {
    let t2 = t * t;
    return (6.0 * t2 - 6.0 * t) * k0.x + (3.0 * t2 - 4.0 * t + 1.0) * k0.y
        + (-6.0 * t2 + 6.0 * t) * k1.x + (3.0 * t2 - 2.0 * t) * k1.y;
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

// ---------------------------------------------------------------------------
// Gradients (src/atoms/grad.rs has the same formulas in f64): for each work
// item (an atom and a range of its samples), the sums over the range of
// dL/dy[n] times the derivative of the atom's sample with respect to each of
// the 13 parameters of GRADIENT_FIELDS, reduced over the workgroup.

const GRAD_FIELDS: u32 = 13u;
const LN_2: f32 = 0.6931471805599453;
// NOISE_GRID_TIMES_WIDTH in src/atoms/prepare.rs.
const NOISE_GRID: f32 = 0.455;

// The physical parameters the derivatives need (keep in sync with AtomShape
// in src/atoms/gpu.rs).
struct AtomShape {
    f0: f32,
    spacing: f32,
    rolloff: f32,
    brightness: f32,
    closing: f32,
    centre: f32,
    width: f32,
    attack: f32,
    length: f32,
    t60: f32,
    fs: f32,
    pad: f32,
}

@group(0) @binding(7) var<storage, read> knot_grads: array<vec2<f32>>;
@group(0) @binding(8) var<storage, read> shapes: array<AtomShape>;
@group(0) @binding(9) var<storage, read> grad_y: array<f32>;
// (atom, first sample, end sample, unused) of each work item.
@group(0) @binding(10) var<storage, read> items: array<vec4<u32>>;
@group(0) @binding(11) var<storage, read_write> sums: array<f32>;

var<workgroup> reduction: array<f32, 256>;

// ln e and its derivatives in τ, attack and length.
fn envelope_derivatives(a: GpuAtom, sh: AtomShape, m: u32, tau: f32) -> vec4<f32> {
    let x = (f32(i32(m) - a.env_peak) + a.env_offset) * a.env_scale;
    let l = sh.length;
    if a.shape == SHAPE_GAUSSIAN {
        return vec4<f32>(-0.5 * x * x, -x / l, x / l, x * x / l);
    }
    if a.shape == SHAPE_EXPONENTIAL {
        return vec4<f32>(-x, -1.0 / l, 0.0, tau / (l * l));
    }
    var log_ratio: f32;
    var ln_e: f32;
    if x < -0.5 {
        let ratio = (f32(m) + a.frac) * a.env_scale;
        if ratio <= 0.0 {
            return vec4<f32>(-1e30, 0.0, 0.0, 0.0);
        }
        log_ratio = log(ratio);
        ln_e = a.env_power * (log_ratio - x);
    } else {
        log_ratio = log(1.0 + x);
        ln_e = a.env_power * log1p_minus_x(x);
    }
    return vec4<f32>(ln_e, a.env_power / tau - 1.0 / l, log_ratio / l, -ln_e / l);
}

// The band noise, its derivative per grid step and per carrier cycle.
fn noise_derivatives(a: GpuAtom, m: u32) -> vec3<f32> {
    let g = grid_point(a, m);
    let w = bspline_weights(g.t);
    let s = 1.0 - g.t;
    let dw = vec4<f32>(-0.5 * s * s, 1.5 * g.t * g.t - 2.0 * g.t,
        -1.5 * g.t * g.t + g.t + 0.5, 0.5 * g.t * g.t);
    let inv = inverseSqrt(dot(w, w));
    let cross = dot(w, dw) * inv * inv;
    let c = dot(w, g.zc) * inv;
    let dc = dot(dw, g.zc) * inv - c * cross;
    let sn = dot(w, g.zs) * inv;
    let ds = dot(dw, g.zs) * inv - sn * cross;
    let carrier = sin_cos_cycles(fixed_phase(m, a.carrier_step, a.carrier_offset));
    return vec3<f32>(c * carrier.y + sn * carrier.x, dc * carrier.y + ds * carrier.x,
        TWO_PI * (-c * carrier.x + sn * carrier.y));
}

// R and its derivatives in τ, attack, length and t60.
struct EnvelopeDerivatives {
    r: f32,
    d_tau: f32,
    d: vec3<f32>,
}

fn knot_grad(a: GpuAtom, j: u32, p: u32) -> vec2<f32> {
    return knot_grads[(a.knot_index + j) * 3u + p];
}

fn resonance_derivatives(a: GpuAtom, sh: AtomShape, m: u32) -> EnvelopeDerivatives {
    let first = a.knot_first * KNOT_SPACING;
    if m < first {
        return EnvelopeDerivatives(0.0, 0.0, vec3<f32>(0.0));
    }
    let offset = m - first;
    let j = offset >> KNOT_SHIFT;
    if j + 1u >= a.knot_count {
        let last = a.knot_count - 1u;
        let steps = f32(offset - last * KNOT_SPACING);
        let decay = exp(-a.decay_step * steps);
        let r = knots[a.knot_index + last].x * decay;
        let d = vec3<f32>(knot_grad(a, last, 0u).x, knot_grad(a, last, 1u).x,
            knot_grad(a, last, 2u).x) * decay;
        return EnvelopeDerivatives(r, -a.decay_step * sh.fs * r,
            d + vec3<f32>(0.0, 0.0, r * steps * a.decay_step / sh.t60));
    }
    let t = f32(offset & (KNOT_SPACING - 1u)) / f32(KNOT_SPACING);
    let k0 = knots[a.knot_index + j];
    let k1 = knots[a.knot_index + j + 1u];
    let interval = f32(KNOT_SPACING) / sh.fs;
    let d = vec3<f32>(hermite(knot_grad(a, j, 0u), knot_grad(a, j + 1u, 0u), t),
        hermite(knot_grad(a, j, 1u), knot_grad(a, j + 1u, 1u), t),
        hermite(knot_grad(a, j, 2u), knot_grad(a, j + 1u, 2u), t));
    return EnvelopeDerivatives(hermite(k0, k1, t), hermite_slope(k0, k1, t) / interval, d);
}

// S = Σ_k a_k g_k sin(2π φ_k) and its derivatives.
struct PartialDerivatives {
    value: f32,
    tau: f32,
    f0: f32,
    spacing: f32,
    rolloff: f32,
    brightness: f32,
    closing: f32,
}

fn partial_derivatives(a: GpuAtom, sh: AtomShape, m: u32, tau: f32) -> PartialDerivatives {
    var s = PartialDerivatives(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    let octaves = a.closing_step * f32(m);
    for (var k = 0u; k < a.partial_count; k++) {
        let p = partials[a.partial_first + k];
        let exponent = p.lowpass + octaves;
        if exponent > LOWPASS_SILENT {
            break;
        }
        let kf = f32(k);
        let f = sh.f0 * (1.0 + kf * sh.spacing);
        let q = exp2(exponent);
        let g = inverseSqrt(1.0 + q);
        let dg_dq = -0.5 * g * g * g;
        let sc = sin_cos_cycles(fixed_phase(m, p.step, p.offset));
        let d_f = p.amplitude * (dg_dq * 4.0 * q / f * sc.x + g * TWO_PI * tau * sc.y);
        s.value += p.amplitude * g * sc.x;
        s.tau += p.amplitude * (dg_dq * q * LN_2 * 4.0 / sh.closing * sc.x + g * TWO_PI * f * sc.y);
        s.f0 += d_f * (1.0 + kf * sh.spacing);
        s.spacing += d_f * sh.f0 * kf;
        if k > 0u {
            // d(rolloff^k)/d rolloff = k rolloff^(k-1); rolloff > 0 whenever k > 0.
            s.rolloff += kf * p.amplitude / sh.rolloff * g * sc.x;
        }
        s.brightness += p.amplitude * dg_dq * (-4.0 * q / sh.brightness) * sc.x;
        s.closing += p.amplitude * dg_dq * (-q * LN_2 * 4.0 * tau / (sh.closing * sh.closing)) * sc.x;
    }
    return s;
}

// dL/dy times every derivative of the atom's sample m, added into `acc`.
fn add_derivatives(a: GpuAtom, sh: AtomShape, m: u32, g: f32, acc: ptr<function, array<f32, 13>>) {
    let tau = (f32(m) + a.frac) / sh.fs;
    var dx_dtau = 0.0;
    if a.burst_gain != 0.0 && m >= a.burst_begin && m < a.burst_end {
        let env = envelope_derivatives(a, sh, m, tau);
        let e = exp(env.x);
        let n = noise_derivatives(a, m);
        let gb = g * a.burst_gain;
        (*acc)[11] += g * e * n.x;
        (*acc)[9] += gb * e * env.z * n.x;
        (*acc)[10] += gb * e * env.w * n.x;
        (*acc)[7] += gb * e * n.z * tau;
        (*acc)[8] += gb * e * n.y * tau / NOISE_GRID;
        dx_dtau += gb * e * (env.y * n.x + n.y * sh.width / NOISE_GRID + n.z * sh.centre);
    }
    if a.resonance_gain != 0.0 && a.partial_count > 0u {
        let r = resonance_derivatives(a, sh, m);
        let s = partial_derivatives(a, sh, m, tau);
        let gr = g * a.resonance_gain;
        (*acc)[12] += g * r.r * s.value;
        (*acc)[1] += gr * r.r * s.f0;
        (*acc)[2] += gr * r.r * s.spacing;
        (*acc)[3] += gr * r.r * s.rolloff;
        (*acc)[5] += gr * r.r * s.brightness;
        (*acc)[6] += gr * r.r * s.closing;
        (*acc)[9] += gr * r.d.x * s.value;
        (*acc)[10] += gr * r.d.y * s.value;
        (*acc)[4] += gr * r.d.z * s.value;
        dx_dtau += gr * (r.d_tau * s.value + r.r * s.tau);
    }
    // x depends on the onset only through τ = t - onset.
    (*acc)[0] -= dx_dtau;
}

@compute @workgroup_size(256)
fn gradient(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let index = group.x + group.y * params.groups_x;
    if index >= arrayLength(&items) {
        return;
    }
    let item = items[index];
    let a = atoms[item.x];
    let sh = shapes[item.x];
    var acc: array<f32, 13>;
    for (var m = item.y + lane; m < item.z; m += TILE) {
        let n = a.start + m - params.out_first;
        let g = grad_y[n];
        if g != 0.0 {
            add_derivatives(a, sh, m, g, &acc);
        }
    }
    for (var c = 0u; c < GRAD_FIELDS; c++) {
        reduction[lane] = acc[c];
        workgroupBarrier();
        for (var stride = TILE / 2u; stride > 0u; stride >>= 1u) {
            if lane < stride {
                reduction[lane] += reduction[lane + stride];
            }
            workgroupBarrier();
        }
        if lane == 0u {
            sums[index * GRAD_FIELDS + c] = reduction[0];
        }
        workgroupBarrier();
    }
}
