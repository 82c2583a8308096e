// Plain device-memory copy, the yardstick for every kernel's bandwidth figure:
// one vec4 read and one vec4 write per invocation.

@group(0) @binding(0) var<storage, read> source: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> destination: array<vec4<f32>>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = gid.x + gid.y * groups.x * 256u;
    if (i < arrayLength(&destination)) {
        destination[i] = source[i];
    }
}
