// Gaussian-process sampling by circulant embedding (src/gp/gpu.rs):
//   noise:   spectrum[(c * pairs + p) * M + j] = sqrt(lambda_c[j] / M) * (g1 + i g2),
//            (g1, g2) standard normals from a counter-based hash of
//            (seed, stream = first_pair + p, component = c, index = j);
//   (the shared four-step FFT transforms every (c, p) row of M values;)
//   combine: draws[d * n + t] = sum_c a_c(t) * Re or Im (d even / odd) of
//            transformed[(c * pairs + d / 2) * M + t]: the non-stationary
//            amplitude and mixing of independent stationary components.
// CPU mirrors: `noise_spectrum` and `combine` in src/gp/cpu.rs, the hash in
// src/gp/noise.rs (same integer arithmetic, so the same seed gives the same
// draws to float tolerance). No workgroup memory, no barriers.

// Keep in sync with GpParams in src/gp/gpu.rs (sizes checked by a test).
struct GpParams {
    m: u32,
    log2_m: u32,
    n: u32,
    components: u32,
    pairs: u32,
    first_pair: u32,
    seed_lo: u32,
    seed_hi: u32,
    // invocations and the x extent of the 2-D dispatch, per entry point
    noise_total: u32,
    noise_groups_x: u32,
    draws_total: u32,
    draws_groups_x: u32,
}

@group(0) @binding(0) var<storage, read> sqrt_spectrum: array<f32>;
@group(0) @binding(1) var<storage, read_write> spectrum: array<vec2<f32>>;
@group(0) @binding(2) var<uniform> params: GpParams;
@group(0) @binding(3) var<storage, read> transformed: array<vec2<f32>>;
@group(0) @binding(4) var<storage, read> amplitude: array<f32>;
@group(0) @binding(5) var<storage, read_write> draws: array<f32>;

const WORKGROUP: u32 = 256u;

// pcg4d (Jarzynski & Olano 2020); keep in sync with `pcg4d` in src/gp/noise.rs.
fn pcg4d(input: vec4<u32>) -> vec4<u32> {
    var v = input * 1664525u + 1013904223u;
    v.x += v.y * v.w;
    v.y += v.z * v.x;
    v.z += v.x * v.y;
    v.w += v.y * v.z;
    v = v ^ (v >> vec4<u32>(16u));
    v.x += v.y * v.w;
    v.y += v.z * v.x;
    v.z += v.x * v.y;
    v.w += v.y * v.z;
    return v;
}

// Two independent standard normals (Box-Muller on 24-bit uniforms).
fn gaussian_pair(stream: u32, component: u32, index: u32) -> vec2<f32> {
    let v = vec4<u32>(index, stream, params.seed_lo, params.seed_hi ^ (component * 0x9E3779B9u));
    let h = pcg4d(pcg4d(v));
    let u1 = f32((h.x >> 8u) + 1u) * (1.0 / 16777216.0);
    let u2 = f32(h.y >> 8u) * (1.0 / 16777216.0);
    let r = sqrt(-2.0 * log(u1));
    let angle = 6.283185307179586 * u2;
    return r * vec2<f32>(cos(angle), sin(angle));
}

@compute @workgroup_size(WORKGROUP)
fn noise(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x + gid.y * params.noise_groups_x * WORKGROUP;
    if (i >= params.noise_total) {
        return;
    }
    let j = i & (params.m - 1u);
    let cp = i >> params.log2_m;
    let c = cp / params.pairs;
    let p = cp - c * params.pairs;
    spectrum[i] = sqrt_spectrum[c * params.m + j] * gaussian_pair(params.first_pair + p, c, j);
}

@compute @workgroup_size(WORKGROUP)
fn combine(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x + gid.y * params.draws_groups_x * WORKGROUP;
    if (i >= params.draws_total) {
        return;
    }
    let d = i / params.n;
    let t = i - d * params.n;
    let p = d >> 1u;
    let imaginary = (d & 1u) == 1u;
    var sum = 0.0;
    for (var c = 0u; c < params.components; c++) {
        let z = transformed[(c * params.pairs + p) * params.m + t];
        sum += amplitude[c * params.n + t] * select(z.x, z.y, imaginary);
    }
    draws[i] = sum;
}
