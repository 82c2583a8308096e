//! Counter-based white noise: a pair of independent standard normals for every
//! (seed, stream, component, index), the same on the CPU and the GPU.
//! Keep in sync with `pcg4d` and `gaussian_pair` in shaders/gp.wgsl.
//!
//! The hash is two rounds of pcg4d (Jarzynski & Olano, "Hash functions for GPU
//! rendering", 2020) of (index, stream, seed_lo, seed_hi ^ component * golden);
//! 24 bits of two of its words give u1 in (0, 1] and u2 in [0, 1), and
//! Box-Muller turns them into sqrt(-2 ln u1) (cos 2 pi u2, sin 2 pi u2).

/// One round of pcg4d.
pub fn pcg4d(v: [u32; 4]) -> [u32; 4] {
    let mut v = v.map(|x| x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223));
    mix(&mut v);
    v = v.map(|x| x ^ (x >> 16));
    mix(&mut v);
    v
}

fn mix(v: &mut [u32; 4]) {
    v[0] = v[0].wrapping_add(v[1].wrapping_mul(v[3]));
    v[1] = v[1].wrapping_add(v[2].wrapping_mul(v[0]));
    v[2] = v[2].wrapping_add(v[0].wrapping_mul(v[1]));
    v[3] = v[3].wrapping_add(v[1].wrapping_mul(v[2]));
}

/// The two uniform integers (24 bits each) behind one gaussian pair.
pub fn hash_pair(seed: u64, stream: u32, component: u32, index: u32) -> (u32, u32) {
    let v = [
        index,
        stream,
        seed as u32,
        (seed >> 32) as u32 ^ component.wrapping_mul(0x9E37_79B9),
    ];
    let h = pcg4d(pcg4d(v));
    (h[0] >> 8, h[1] >> 8)
}

/// Two independent standard normals for (seed, stream, component, index).
pub fn gaussian_pair(seed: u64, stream: u32, component: u32, index: u32) -> [f64; 2] {
    let (a, b) = hash_pair(seed, stream, component, index);
    let scale = 1.0 / 16_777_216.0;
    let u1 = (a + 1) as f64 * scale;
    let u2 = b as f64 * scale;
    let r = (-2.0 * u1.ln()).sqrt();
    let (s, c) = (2.0 * std::f64::consts::PI * u2).sin_cos();
    [r * c, r * s]
}
