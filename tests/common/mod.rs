//! Shared test helpers: seeded random inputs, the shared GPU context, error norms.
#![allow(dead_code)] // each test binary uses a different subset

use std::sync::OnceLock;
use wavesplat::gpu::{GpuContext, GpuOptions};

/// SplitMix64: small, seedable, good enough for test signals.
pub struct Rng(u64);

impl Rng {
    /// A generator seeded from `RNG_SEED` if set, else from the clock; the seed
    /// is printed so a failure can be replayed.
    pub fn fresh(test: &str) -> Self {
        let seed = std::env::var("RNG_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            });
        eprintln!("{test}: RNG_SEED={seed}");
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform integer in lo..=hi.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }

    /// `len` samples uniform in [-1, 1).
    pub fn signal(&mut self, len: usize) -> Vec<f32> {
        (0..len)
            .map(|_| (2.0 * self.uniform() - 1.0) as f32)
            .collect()
    }
}

/// The shared GPU context, with output poisoning on. Without an adapter the test
/// fails when `WAVESPLAT_REQUIRE_GPU=1` (as in CI), and otherwise says loudly
/// that it checked nothing.
pub fn gpu(test: &str) -> Option<&'static GpuContext> {
    static CONTEXT: OnceLock<Result<GpuContext, String>> = OnceLock::new();
    let ctx = CONTEXT.get_or_init(|| {
        let ctx = GpuContext::new().map_err(|e| e.to_string())?;
        ctx.pool().set_poison(true);
        eprintln!("GPU tests run on {}", ctx.summary().name);
        Ok(ctx)
    });
    match ctx {
        Ok(ctx) => Some(ctx),
        Err(e) if require_gpu() => panic!("{test}: WAVESPLAT_REQUIRE_GPU=1 but no GPU: {e}"),
        Err(e) => {
            eprintln!(
                "!!! {test}: NOT RUN, no GPU adapter ({e}); set WAVESPLAT_REQUIRE_GPU=1 to fail instead"
            );
            None
        }
    }
}

/// A separate context opened with `options` (poisoning on), same rules as [`gpu`].
pub fn gpu_with(test: &str, options: GpuOptions) -> Option<GpuContext> {
    match GpuContext::with_options(&options) {
        Ok(ctx) => {
            ctx.pool().set_poison(true);
            Some(ctx)
        }
        Err(e) if require_gpu() => panic!("{test}: WAVESPLAT_REQUIRE_GPU=1 but no GPU: {e}"),
        Err(e) => {
            eprintln!("!!! {test}: NOT RUN, no GPU adapter ({e})");
            None
        }
    }
}

fn require_gpu() -> bool {
    std::env::var("WAVESPLAT_REQUIRE_GPU").is_ok_and(|v| v == "1")
}

/// ||a - b|| / ||b|| in f64; NaN anywhere makes it NaN (and so fails a `<` bound).
pub fn relative_error(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    let diff: f64 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
    let norm: f64 = b.iter().map(|y| y * y).sum();
    (diff / norm).sqrt()
}

/// Widens f32s.
pub fn widen(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

/// Runs the `wavesplat` binary with `args` (Vulkan's runtime-dir warnings silenced).
pub fn wavesplat(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_wavesplat"))
        .args(args)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .expect("the binary runs")
}

/// A fresh directory under the temp dir, unique to this test binary, process and `name`.
pub fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "wavesplat-{}-{}-{name}",
        env!("CARGO_CRATE_NAME"),
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A command's stderr as text.
pub fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Writes mono 32-bit float samples with hound, as given (NaN included, which
/// `audio::write_wav` refuses).
pub fn write_float_wav(path: &std::path::Path, rate: u32, samples: &[f32]) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut writer = hound::WavWriter::create(path, spec).unwrap();
    for &s in samples {
        writer.write_sample(s).unwrap();
    }
    writer.finalize().unwrap();
}

/// Runs a command that must fail: exit code 1, the expected words, no panic,
/// no output file left at `out`.
pub fn assert_fails(args: &[&str], out: &std::path::Path, words: &[&str]) {
    let o = wavesplat(args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{args:?} panicked:\n{err}");
    for w in words {
        assert!(err.contains(w), "{args:?}: expected {w:?} in:\n{err}");
    }
    assert!(!out.exists(), "{args:?} left {}", out.display());
}
