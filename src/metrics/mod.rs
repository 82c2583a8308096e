//! Codec quality metrics, defined as in DESIGN.md ("Quality metrics") and
//! `../shared/tools/audio_metrics.py`, which the tests cross-check to 1e-3:
//!
//! - **mel distance**: the mean over 7 scales (windows 32, 64, ..., 2048, hop
//!   window / 4, periodic Hann, 5, 10, ..., 320 mel bands) of the mean
//!   |log10(max(mel_ref, 1e-5)) - log10(max(mel_test, 1e-5))|, mel energies
//!   being magnitude spectra through a [`MelFilterbank`];
//! - **STFT distance**: the mean over windows 2048 and 512 of
//!   mean |log10(max(|X|^2, 1e-5)) - log10(max(|Y|^2, 1e-5))| + mean ||X| - |Y||;
//! - **log-spectral distance** (dB, window 2048, hop 512): the mean over frames
//!   of the RMS over bins of 10 log10(max(|X|^2, 1e-10)) - 10 log10(max(|Y|^2, 1e-10));
//! - **SNR** (dB): 10 log10(sum ref^2 / max(sum (ref - test)^2, 1e-20));
//! - **bitrate** (kbit/s): event-file bytes * 8 / seconds / 1000.
//!
//! As the script does, the longer signal is truncated to the shorter before
//! anything is computed, and the rate only sets the mel filterbanks. Framing is
//! the crate's STFT (torch centre/reflect framing, equal to the script's
//! `np.pad(x, (w/2, w/2), "reflect")` and `1 + (len(pad) - w) // hop` frames),
//! so the compared length must exceed 1024 samples (reflect padding for the
//! 2048 window); the script reflects repeatedly for shorter signals, this
//! module refuses them.
//!
//! Identical signals give 0 distances and a finite SNR of
//! 200 + 10 log10(sum ref^2) dB (the error energy is floored at 1e-20, as in the
//! script); a silent reference gives an SNR of minus infinity (JSON: `null`).
//!
//! [`evaluate`] computes everything in f64 through [`stft::cpu::stft_reference`],
//! one window scale per thread; [`Backend::Gpu`] takes the magnitude spectra
//! from [`stft::gpu`] (f32) instead and does the rest on the CPU.

pub mod mel;

pub use mel::{MelFilterbank, hz_to_mel, mel_to_hz};

use crate::error::{Error, Result, check_finite};
use crate::gpu::GpuContext;
use crate::stft::{self, SpectrumFormat, StftConfig};
use std::sync::atomic::{AtomicUsize, Ordering};

/// (window, mel bands) of the mel distance's scales; hop window / 4.
pub const MEL_SCALES: [(usize, usize); 7] = [
    (32, 5),
    (64, 10),
    (128, 20),
    (256, 40),
    (512, 80),
    (1024, 160),
    (2048, 320),
];
/// Windows of the STFT distance; hop window / 4.
pub const STFT_WINDOWS: [usize; 2] = [2048, 512];
/// Window of the log-spectral distance; hop window / 4.
pub const LSD_WINDOW: usize = 2048;
/// Floor of mel energies and of |X|^2 before log10 in the mel and STFT distances.
pub const LOG_FLOOR: f64 = 1e-5;
/// Floor of |X|^2 before the log-spectral distance's 10 log10.
pub const LSD_POWER_FLOOR: f64 = 1e-10;
/// Floor of the error energy in the SNR.
pub const SNR_ERROR_FLOOR: f64 = 1e-20;
/// The shortest compared length: reflect padding of the 2048-sample window
/// needs more than 1024 samples.
pub const MIN_SAMPLES: usize = LSD_WINDOW / 2 + 1;

/// All metrics of one (reference, test) pair. JSON keys follow
/// `audio_metrics.py` (`mel_dist`, `stft_dist`, `lsd_db`, `snr_db`), so its
/// output is a subset of this one's.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Metrics {
    #[serde(rename = "mel_dist")]
    pub mel_distance: f64,
    #[serde(rename = "stft_dist")]
    pub stft_distance: f64,
    pub lsd_db: f64,
    /// Minus infinity for a silent reference (serialised as `null`).
    pub snr_db: f64,
    /// Set by [`Metrics::with_bitrate`]; absent from JSON until then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bitrate_kbps: Option<f64>,
    pub sample_rate: u32,
    /// Samples compared: the shorter of the two lengths.
    pub samples: usize,
    pub reference_samples: usize,
    pub test_samples: usize,
}

impl Metrics {
    /// Seconds of reference audio.
    pub fn reference_seconds(&self) -> f64 {
        self.reference_samples as f64 / f64::from(self.sample_rate)
    }

    /// The same metrics with the bitrate of an event file of `bytes` bytes
    /// coding the reference's duration.
    pub fn with_bitrate(self, bytes: u64) -> Result<Self> {
        Ok(Metrics {
            bitrate_kbps: Some(bitrate_kbps(bytes, self.reference_seconds())?),
            ..self
        })
    }
}

impl std::fmt::Display for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "mel distance           {:.6}", self.mel_distance)?;
        writeln!(f, "STFT distance          {:.6}", self.stft_distance)?;
        writeln!(f, "log-spectral distance  {:.4} dB", self.lsd_db)?;
        writeln!(f, "SNR                    {:.4} dB", self.snr_db)?;
        if let Some(kbps) = self.bitrate_kbps {
            writeln!(f, "bitrate                {kbps:.4} kbit/s")?;
        }
        writeln!(
            f,
            "compared               {} samples at {} Hz (reference {}, test {})",
            self.samples, self.sample_rate, self.reference_samples, self.test_samples
        )
    }
}

/// Where the magnitude spectra come from.
#[derive(Clone, Copy)]
pub enum Backend<'a> {
    /// f64 on the CPU on `threads` threads (0: every core); the reference.
    Cpu { threads: usize },
    /// f32 spectra from the GPU STFT, the distances in f64 on the CPU.
    Gpu(&'a GpuContext),
}

/// Both signals' magnitude spectra at one window (hop window / 4), each
/// `frames x bins`, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct MagnitudePair {
    pub n_fft: usize,
    pub frames: usize,
    pub bins: usize,
    pub reference: Vec<f64>,
    pub test: Vec<f64>,
}

/// The two terms of the STFT distance at one window.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct StftDistanceTerms {
    pub n_fft: usize,
    /// mean |log10(max(|X|^2, 1e-5)) - log10(max(|Y|^2, 1e-5))|.
    pub log_power: f64,
    /// mean ||X| - |Y||.
    pub magnitude: f64,
}

impl StftDistanceTerms {
    /// The window's contribution: the sum of both terms.
    pub fn total(&self) -> f64 {
        self.log_power + self.magnitude
    }
}

/// All metrics on the CPU in f64, one window scale per core.
///
/// # Errors
/// [`Error::InvalidParameter`] for an empty signal, a compared length of at
/// most 1024 samples or a rate of 0; [`Error::NonFinite`] for NaN or infinity.
pub fn evaluate(reference: &[f32], test: &[f32], rate: u32) -> Result<Metrics> {
    evaluate_with(reference, test, rate, Backend::Cpu { threads: 0 })
}

/// All metrics with the spectra from `backend`. Errors as [`evaluate`], and
/// GPU errors.
pub fn evaluate_with(
    reference: &[f32],
    test: &[f32],
    rate: u32,
    backend: Backend,
) -> Result<Metrics> {
    let (r, t) = compared(reference, test)?;
    check_rate(rate)?;
    let windows = MEL_SCALES.map(|(w, _)| w);
    let scales = per_window(r, t, &windows, backend, |pair| {
        let n_mels = mel_bands(pair.n_fft);
        Ok(ScaleResult {
            mel: mel_scale_distance(pair, &MelFilterbank::new(rate, pair.n_fft, n_mels)?),
            stft: STFT_WINDOWS.contains(&pair.n_fft).then(|| stft_terms(pair)),
            lsd: (pair.n_fft == LSD_WINDOW).then(|| lsd_of(pair)),
        })
    })?;
    let stft: Vec<f64> = scales
        .iter()
        .filter_map(|s| s.stft)
        .map(|s| s.total())
        .collect();
    Ok(Metrics {
        mel_distance: mean(scales.iter().map(|s| s.mel)),
        stft_distance: mean(stft.into_iter()),
        lsd_db: scales
            .iter()
            .find_map(|s| s.lsd)
            .expect("the LSD window is one of the mel scales"),
        snr_db: snr_of(r, t),
        bitrate_kbps: None,
        sample_rate: rate,
        samples: r.len(),
        reference_samples: reference.len(),
        test_samples: test.len(),
    })
}

/// The mel distance alone (CPU, f64). Errors as [`evaluate`].
pub fn mel_distance(reference: &[f32], test: &[f32], rate: u32) -> Result<f64> {
    let (r, t) = compared(reference, test)?;
    check_rate(rate)?;
    let windows = MEL_SCALES.map(|(w, _)| w);
    let cpu = Backend::Cpu { threads: 0 };
    let scales = per_window(r, t, &windows, cpu, |pair| {
        let fb = MelFilterbank::new(rate, pair.n_fft, mel_bands(pair.n_fft))?;
        Ok(mel_scale_distance(pair, &fb))
    })?;
    Ok(mean(scales.into_iter()))
}

/// The STFT distance alone (CPU, f64): the mean of [`stft_distance_terms`]'
/// totals. Errors as [`evaluate`].
pub fn stft_distance(reference: &[f32], test: &[f32]) -> Result<f64> {
    let terms = stft_distance_terms(reference, test)?;
    Ok(mean(terms.iter().map(StftDistanceTerms::total)))
}

/// The STFT distance's two terms at each of [`STFT_WINDOWS`]. Errors as [`evaluate`].
pub fn stft_distance_terms(reference: &[f32], test: &[f32]) -> Result<Vec<StftDistanceTerms>> {
    let (r, t) = compared(reference, test)?;
    let cpu = Backend::Cpu { threads: 0 };
    per_window(r, t, &STFT_WINDOWS, cpu, |pair| Ok(stft_terms(pair)))
}

/// The log-spectral distance in dB (CPU, f64). Errors as [`evaluate`].
pub fn log_spectral_distance(reference: &[f32], test: &[f32]) -> Result<f64> {
    let (r, t) = compared(reference, test)?;
    let cpu = Backend::Cpu { threads: 1 };
    let lsd = per_window(r, t, &[LSD_WINDOW], cpu, |pair| Ok(lsd_of(pair)))?;
    Ok(lsd[0])
}

/// Waveform SNR in dB. Needs no minimum length, only non-empty finite signals
/// (truncated to the shorter).
pub fn snr_db(reference: &[f32], test: &[f32]) -> Result<f64> {
    let (r, t) = truncated(reference, test)?;
    Ok(snr_of(r, t))
}

/// bytes * 8 / seconds / 1000.
///
/// # Errors
/// [`Error::InvalidParameter`] when `seconds` is not a positive finite number.
pub fn bitrate_kbps(bytes: u64, seconds: f64) -> Result<f64> {
    if !(seconds.is_finite() && seconds > 0.0) {
        return Err(Error::invalid(
            "duration",
            format!("{seconds} s: a bitrate needs a positive duration"),
        ));
    }
    Ok(bytes as f64 * 8.0 / seconds / 1000.0)
}

/// Both signals' magnitude spectra at window `n_fft` (hop n_fft / 4), in f64
/// from [`stft::cpu::stft_reference`]. The signals must have equal lengths.
pub fn magnitudes(reference: &[f32], test: &[f32], n_fft: usize) -> Result<MagnitudePair> {
    let cfg = StftConfig::new(n_fft, n_fft / 4);
    let spectra = stft::cpu::stft_reference(&[reference, test], &cfg)?;
    let (frames, bins) = (cfg.frames(reference.len()), cfg.bins());
    let mut norms = spectra.iter().map(|x| x.norm());
    Ok(MagnitudePair {
        n_fft,
        frames,
        bins,
        reference: norms.by_ref().take(frames * bins).collect(),
        test: norms.collect(),
    })
}

/// The mel distance at one scale: mean |log10 max(mel_ref, 1e-5) - log10 max(mel_test, 1e-5)|.
pub fn mel_scale_distance(pair: &MagnitudePair, fb: &MelFilterbank) -> f64 {
    let (mut a, mut b) = (vec![0.0; fb.n_mels], vec![0.0; fb.n_mels]);
    let mut sum = 0.0;
    for (x, y) in pair
        .reference
        .chunks_exact(pair.bins)
        .zip(pair.test.chunks_exact(pair.bins))
    {
        fb.apply(x, &mut a);
        fb.apply(y, &mut b);
        sum += a
            .iter()
            .zip(&b)
            .map(|(p, q)| (p.max(LOG_FLOOR).log10() - q.max(LOG_FLOOR).log10()).abs())
            .sum::<f64>();
    }
    sum / (pair.frames * fb.n_mels) as f64
}

/// The STFT distance's terms at one window.
pub fn stft_terms(pair: &MagnitudePair) -> StftDistanceTerms {
    let log_power = |m: f64| (m * m).max(LOG_FLOOR).log10();
    let (mut log_sum, mut magnitude_sum) = (0.0, 0.0);
    for (&x, &y) in pair.reference.iter().zip(&pair.test) {
        log_sum += (log_power(x) - log_power(y)).abs();
        magnitude_sum += (x - y).abs();
    }
    let n = pair.reference.len() as f64;
    StftDistanceTerms {
        n_fft: pair.n_fft,
        log_power: log_sum / n,
        magnitude: magnitude_sum / n,
    }
}

/// The log-spectral distance of one magnitude pair, in dB.
pub fn lsd_of(pair: &MagnitudePair) -> f64 {
    let db = |m: f64| 10.0 * (m * m).max(LSD_POWER_FLOOR).log10();
    let frames = pair
        .reference
        .chunks_exact(pair.bins)
        .zip(pair.test.chunks_exact(pair.bins))
        .map(|(x, y)| {
            let square: f64 = x
                .iter()
                .zip(y)
                .map(|(&p, &q)| (db(p) - db(q)).powi(2))
                .sum();
            (square / pair.bins as f64).sqrt()
        });
    mean(frames)
}

/// What one window scale contributes to [`evaluate`].
struct ScaleResult {
    mel: f64,
    stft: Option<StftDistanceTerms>,
    lsd: Option<f64>,
}

/// Runs `job` on the magnitude pair of every window in `windows`, in order:
/// on the CPU one window per worker, on the GPU all windows in one submission.
fn per_window<T: Send>(
    reference: &[f32],
    test: &[f32],
    windows: &[usize],
    backend: Backend,
    job: impl Fn(&MagnitudePair) -> Result<T> + Sync,
) -> Result<Vec<T>> {
    match backend {
        Backend::Gpu(ctx) => gpu_magnitudes(ctx, reference, test, windows)?
            .iter()
            .map(job)
            .collect(),
        Backend::Cpu { threads } => {
            let next = AtomicUsize::new(0);
            let workers = stft::cpu::resolve_threads(threads).min(windows.len());
            let worker = || {
                let mut done = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&n_fft) = windows.get(i) else {
                        return done;
                    };
                    done.push((i, magnitudes(reference, test, n_fft).and_then(|p| job(&p))));
                }
            };
            let mut results: Vec<(usize, Result<T>)> = std::thread::scope(|scope| {
                let handles: Vec<_> = (0..workers).map(|_| scope.spawn(worker)).collect();
                handles
                    .into_iter()
                    .flat_map(|h| h.join().expect("a metrics worker panicked"))
                    .collect()
            });
            results.sort_by_key(|(i, _)| *i);
            results.into_iter().map(|(_, r)| r).collect()
        }
    }
}

/// Magnitude spectra of both signals at every window from the GPU STFT.
fn gpu_magnitudes(
    ctx: &GpuContext,
    reference: &[f32],
    test: &[f32],
    windows: &[usize],
) -> Result<Vec<MagnitudePair>> {
    let cfgs: Vec<StftConfig> = windows
        .iter()
        .map(|&w| StftConfig::new(w, w / 4).with_format(SpectrumFormat::Magnitude))
        .collect();
    let specs = stft::gpu::stft_multi(ctx, &[reference, test], &cfgs)?;
    let widen = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect();
    Ok(specs
        .iter()
        .zip(windows)
        .map(|(s, &n_fft)| MagnitudePair {
            n_fft,
            frames: s.frames,
            bins: s.bins,
            reference: widen(s.signal(0)),
            test: widen(s.signal(1)),
        })
        .collect())
}

/// Mel bands of the scale whose window is `n_fft`.
fn mel_bands(n_fft: usize) -> usize {
    MEL_SCALES
        .iter()
        .find(|&&(w, _)| w == n_fft)
        .map_or(0, |&(_, m)| m)
}

/// 10 log10(sum r^2 / max(sum (r - t)^2, 1e-20)) in f64.
fn snr_of(reference: &[f32], test: &[f32]) -> f64 {
    let (mut signal, mut error) = (0.0f64, 0.0f64);
    for (&r, &t) in reference.iter().zip(test) {
        let (r, t) = (f64::from(r), f64::from(t));
        signal += r * r;
        error += (r - t) * (r - t);
    }
    10.0 * (signal / error.max(SNR_ERROR_FLOOR)).log10()
}

/// Both signals checked (non-empty, finite) and cut to the shorter length.
fn truncated<'a>(reference: &'a [f32], test: &'a [f32]) -> Result<(&'a [f32], &'a [f32])> {
    for (what, signal) in [("reference", reference), ("test", test)] {
        if signal.is_empty() {
            return Err(Error::invalid(
                "signal",
                format!("the {what} signal is empty"),
            ));
        }
        check_finite(what, signal)?;
    }
    let n = reference.len().min(test.len());
    Ok((&reference[..n], &test[..n]))
}

/// [`truncated`], and long enough for every window's reflect padding.
fn compared<'a>(reference: &'a [f32], test: &'a [f32]) -> Result<(&'a [f32], &'a [f32])> {
    let (r, t) = truncated(reference, test)?;
    if r.len() < MIN_SAMPLES {
        return Err(Error::invalid(
            "signal length",
            format!(
                "reference {} and test {} samples: the metrics compare the shorter length, \
                 which must be at least {MIN_SAMPLES} samples (reflect padding of the {LSD_WINDOW}-sample window)",
                reference.len(),
                test.len()
            ),
        ));
    }
    Ok((r, t))
}

fn check_rate(rate: u32) -> Result<()> {
    if rate == 0 {
        return Err(Error::invalid(
            "sample rate",
            "0 Hz: the mel filterbanks need a positive rate",
        ));
    }
    Ok(())
}

/// The arithmetic mean (NaN for no values).
fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    sum / n as f64
}
