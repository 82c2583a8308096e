// Matching-pursuit scoring: every candidate of the dictionary at every onset
// frame, best candidate per frame. Three entry points, run in order in one
// submission (src/encode/gpu.rs); src/encode/cpu.rs is the reference, written
// to read line by line against this file.
//
// project: H[t][c] = sum over column c's taps of weight * residual[t][bin]
// scan:    per column, per envelope rho: S(o) = H[o] + rho S(o+1),
//          E(o) = 1 + rho^2 E(o+1); score S^2 / (E norm); best envelope kept
// reduce:  per frame, the best column (ties to the lowest), zero outside the core
// No float atomics: the per-frame maximum is a workgroup tree reduction.

const WG: u32 = 256u;

// Keep in sync with Column in src/encode/dictionary.rs.
struct Column {
    tap_first: u32,
    tap_count: u32,
    env_first: u32,
    env_count: u32,
    norm: f32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

// Keep in sync with Tap in src/encode/dictionary.rs.
struct Tap {
    bin: u32,
    weight: f32,
}

// Keep in sync with FramePick in src/encode/cpu.rs.
struct FramePick {
    score: f32,
    column: u32,
    envelope: u32,
    pad: u32,
}

// Keep in sync with PursuitParams in src/encode/gpu.rs.
struct PursuitParams {
    frames: u32,
    bins: u32,
    columns: u32,
    core_first: u32,
    core_end: u32,
    groups_x: u32,
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<uniform> params: PursuitParams;
@group(0) @binding(1) var<storage, read> columns: array<Column>;
@group(0) @binding(2) var<storage, read> taps: array<Tap>;
@group(0) @binding(3) var<storage, read> decays: array<f32>;
@group(0) @binding(4) var<storage, read> residual: array<f32>;
@group(0) @binding(5) var<storage, read_write> projection: array<f32>;
@group(0) @binding(6) var<storage, read_write> best: array<f32>;
@group(0) @binding(7) var<storage, read_write> which: array<u32>;
@group(0) @binding(8) var<storage, read_write> picks: array<FramePick>;

fn linear_index(gid: vec3<u32>) -> u32 {
    return gid.x + gid.y * params.groups_x * WG;
}

@compute @workgroup_size(256)
fn project(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = linear_index(gid);
    if (i >= params.frames * params.columns) {
        return;
    }
    let t = i / params.columns;
    let c = i % params.columns;
    let column = columns[c];
    let row = t * params.bins;
    var sum = 0.0;
    for (var k = 0u; k < column.tap_count; k += 1u) {
        let tap = taps[column.tap_first + k];
        sum += tap.weight * residual[row + tap.bin];
    }
    projection[i] = sum;
}

@compute @workgroup_size(256)
fn scan(@builtin(global_invocation_id) gid: vec3<u32>) {
    let c = linear_index(gid);
    if (c >= params.columns) {
        return;
    }
    let column = columns[c];
    for (var e = column.env_first; e < column.env_first + column.env_count; e += 1u) {
        let rho = decays[e];
        var s = 0.0;
        var energy = 0.0;
        for (var k = 0u; k < params.frames; k += 1u) {
            let t = params.frames - 1u - k;
            let i = t * params.columns + c;
            s = projection[i] + rho * s;
            energy = 1.0 + rho * rho * energy;
            let score = s * s / (energy * column.norm);
            if (e == column.env_first || score > best[i]) {
                best[i] = score;
                which[i] = e;
            }
        }
    }
}

var<workgroup> wg_score: array<f32, 256>;
var<workgroup> wg_column: array<u32, 256>;
var<workgroup> wg_envelope: array<u32, 256>;

// Whether (score a, column a) beats (score b, column b): higher, ties to the lower column.
fn beats(sa: f32, ca: u32, sb: f32, cb: u32) -> bool {
    return sa > sb || (sa == sb && ca < cb);
}

@compute @workgroup_size(256)
fn reduce(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    // One workgroup a frame; t is uniform across the workgroup.
    let t = wid.x + wid.y * params.groups_x;
    let inside = t < params.frames && t >= params.core_first && t < params.core_end;
    var score = 0.0;
    var column = 0u;
    var envelope = 0u;
    if (inside) {
        for (var c = lid; c < params.columns; c += WG) {
            let s = best[t * params.columns + c];
            if (s > score) {
                score = s;
                column = c;
                envelope = which[t * params.columns + c];
            }
        }
    }
    wg_score[lid] = score;
    wg_column[lid] = column;
    wg_envelope[lid] = envelope;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
        if (lid < stride) {
            let other = lid + stride;
            if (beats(wg_score[other], wg_column[other], wg_score[lid], wg_column[lid])) {
                wg_score[lid] = wg_score[other];
                wg_column[lid] = wg_column[other];
                wg_envelope[lid] = wg_envelope[other];
            }
        }
        workgroupBarrier();
    }
    if (lid == 0u && t < params.frames) {
        picks[t] = FramePick(wg_score[0], wg_column[0], wg_envelope[0], 0u);
    }
}
