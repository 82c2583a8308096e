//! CPU STFT and ISTFT: an f64 reference built on rustfft's complex transform
//! (what the GPU is tested against), and a fast multi-threaded f32 path on
//! realfft (what `--backend cpu` and the benchmarks use).

use super::{Spectrogram, SpectrumFormat, StftConfig, check_batch, reflect_index};
use crate::error::{Error, Result};
use realfft::RealFftPlanner;
use rustfft::FftPlanner;
use rustfft::num_complex::Complex;

/// Writes frame `f` of `signal`, windowed, into `out` (torch framing).
fn frame_into<S, T>(signal: &[S], f: usize, cfg: &StftConfig, window: &[T], out: &mut [T])
where
    S: Copy,
    T: Copy + std::ops::Mul<Output = T> + From<S>,
{
    let start = (f * cfg.hop) as isize - (cfg.n_fft / 2) as isize;
    if start >= 0 && start as usize + cfg.n_fft <= signal.len() {
        let samples = &signal[start as usize..start as usize + cfg.n_fft];
        for ((o, w), &x) in out.iter_mut().zip(window).zip(samples) {
            *o = T::from(x) * *w;
        }
        return;
    }
    for (n, (o, w)) in out.iter_mut().zip(window).enumerate() {
        *o = T::from(signal[reflect_index(start + n as isize, signal.len())]) * *w;
    }
}

/// The f64 reference: complex spectra, `signals x frames x bins`, row-major,
/// each frame a full complex rustfft transform (independent of the real-input
/// packing the GPU and the fast path use).
pub fn stft_reference(signals: &[&[f32]], cfg: &StftConfig) -> Result<Vec<Complex<f64>>> {
    stft_complex::<f64>(signals, cfg)
}

/// The reference of signals already in f64 (what gradient checks perturb by
/// less than an f32 ulp). Equal lengths and finite samples, as [`check_batch`].
pub fn stft_reference_f64(signals: &[&[f64]], cfg: &StftConfig) -> Result<Vec<Complex<f64>>> {
    let len = signals.first().map_or(0, |s| s.len());
    for (i, s) in signals.iter().enumerate() {
        if s.len() != len || len == 0 {
            return Err(Error::invalid(
                "batch",
                format!("signal {i} has {} samples, signal 0 has {len}", s.len()),
            ));
        }
        if let Some(index) = s.iter().position(|x| !x.is_finite()) {
            return Err(Error::NonFinite {
                what: format!("signal {i}"),
                index,
                value: s[index] as f32,
            });
        }
    }
    cfg.validate_for_length(len)?;
    transform_frames(signals, len, cfg)
}

/// The reference computation in precision `T`; in f32 it is the plain
/// "rustfft on every frame" baseline the benchmarks report beside realfft.
pub fn stft_complex<T>(signals: &[&[f32]], cfg: &StftConfig) -> Result<Vec<Complex<T>>>
where
    T: rustfft::FftNum + From<f32>,
{
    let len = check_batch(signals)?;
    cfg.validate_for_length(len)?;
    transform_frames(signals, len, cfg)
}

/// Every frame of checked signals of `len` samples, a full complex transform each.
fn transform_frames<S, T>(signals: &[&[S]], len: usize, cfg: &StftConfig) -> Result<Vec<Complex<T>>>
where
    S: Copy,
    T: rustfft::FftNum + From<S>,
{
    let window: Vec<T> = cfg
        .window
        .coefficients(cfg.n_fft)
        .iter()
        .map(|&w| T::from_f64(w).expect("window values are finite"))
        .collect();
    let fft = FftPlanner::<T>::new().plan_fft_forward(cfg.n_fft);
    let mut frame = vec![T::zero(); cfg.n_fft];
    let mut buffer = vec![Complex::new(T::zero(), T::zero()); cfg.n_fft];
    let mut out = Vec::with_capacity(signals.len() * cfg.frames(len) * cfg.bins());
    for signal in signals {
        for f in 0..cfg.frames(len) {
            frame_into(signal, f, cfg, &window, &mut frame);
            for (b, x) in buffer.iter_mut().zip(&frame) {
                *b = Complex::new(*x, T::zero());
            }
            fft.process(&mut buffer);
            out.extend_from_slice(&buffer[..cfg.bins()]);
        }
    }
    Ok(out)
}

/// Fast f32 STFT on `threads` CPU threads (0 means all available cores).
pub fn stft(signals: &[&[f32]], cfg: &StftConfig, threads: usize) -> Result<Spectrogram> {
    let len = check_batch(signals)?;
    cfg.validate_for_length(len)?;
    let frames = cfg.frames(len);
    let per_frame = cfg.bins() * cfg.format.floats_per_bin();
    let total = signals.len() * frames;
    let mut data = vec![0.0f32; total * per_frame];
    let threads = resolve_threads(threads).min(total).max(1);
    let chunk_frames = total.div_ceil(threads);
    let window: Vec<f32> = cfg
        .window
        .coefficients(cfg.n_fft)
        .iter()
        .map(|&w| w as f32)
        .collect();
    std::thread::scope(|scope| {
        for (chunk, out) in data.chunks_mut(chunk_frames * per_frame).enumerate() {
            let window = &window;
            scope.spawn(move || {
                stft_frames(signals, cfg, window, chunk * chunk_frames, out);
            });
        }
    });
    Ok(Spectrogram {
        signals: signals.len(),
        frames,
        bins: cfg.bins(),
        format: cfg.format,
        data,
    })
}

/// Transforms the frames from global index `first` on into `out`.
fn stft_frames(
    signals: &[&[f32]],
    cfg: &StftConfig,
    window: &[f32],
    first: usize,
    out: &mut [f32],
) {
    let frames = cfg.frames(signals[0].len());
    let fft = RealFftPlanner::<f32>::new().plan_fft_forward(cfg.n_fft);
    let mut input = fft.make_input_vec();
    let mut spectrum = fft.make_output_vec();
    let mut scratch = fft.make_scratch_vec();
    let per_frame = cfg.bins() * cfg.format.floats_per_bin();
    for (i, slot) in out.chunks_mut(per_frame).enumerate() {
        let g = first + i;
        frame_into(signals[g / frames], g % frames, cfg, window, &mut input);
        fft.process_with_scratch(&mut input, &mut spectrum, &mut scratch)
            .expect("buffer sizes come from the plan");
        cfg.format.convert(&spectrum, slot);
    }
}

/// `threads`, with 0 meaning every available core.
pub fn resolve_threads(threads: usize) -> usize {
    if threads > 0 {
        return threads;
    }
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Output length of an inverse STFT: `len` if given (checked against what the
/// frames cover), else hop * (frames - 1) as torch.istft.
pub fn istft_length(cfg: &StftConfig, frames: usize, len: Option<usize>) -> Result<usize> {
    let covered = (frames.max(1) - 1) * cfg.hop + cfg.n_fft / 2;
    let len = len.unwrap_or((frames.max(1) - 1) * cfg.hop);
    if len == 0 || len > covered {
        return Err(Error::invalid(
            "length",
            format!(
                "{len} samples: {frames} frames of hop {} cover 1..={covered}",
                cfg.hop
            ),
        ));
    }
    Ok(len)
}

/// Checks that a spectrogram can be inverted with `cfg`.
pub fn check_invertible(spec: &Spectrogram, cfg: &StftConfig) -> Result<()> {
    cfg.validate_invertible()?;
    if spec.format != SpectrumFormat::Complex {
        return Err(Error::invalid(
            "spectrogram",
            "the inverse STFT needs complex spectra",
        ));
    }
    if spec.bins != cfg.bins() || spec.frames == 0 || spec.signals == 0 {
        return Err(Error::invalid(
            "spectrogram",
            format!(
                "{} signals x {} frames x {} bins does not fit n_fft {}",
                spec.signals, spec.frames, spec.bins, cfg.n_fft
            ),
        ));
    }
    if spec.data.len() != spec.signals * spec.floats_per_signal() {
        return Err(Error::invalid(
            "spectrogram",
            "data length does not match its shape",
        ));
    }
    crate::error::check_finite("spectrogram", &spec.data)
}

/// Inverse STFT by weighted overlap-add, computed in f64: the reference for the
/// GPU inverse. `len` as in [`istft_length`].
pub fn istft(spec: &Spectrogram, cfg: &StftConfig, len: Option<usize>) -> Result<Vec<Vec<f32>>> {
    check_invertible(spec, cfg)?;
    let len = istft_length(cfg, spec.frames, len)?;
    let n = cfg.n_fft;
    let window = cfg.window.coefficients(n);
    let fft = FftPlanner::<f64>::new().plan_fft_inverse(n);
    let mut buffer = vec![Complex::new(0.0, 0.0); n];
    let mut out = Vec::with_capacity(spec.signals);
    for s in 0..spec.signals {
        let padded = (spec.frames - 1) * cfg.hop + n;
        let (mut sum, mut envelope) = (vec![0.0f64; padded], vec![0.0f64; padded]);
        for (f, bins) in spec.signal(s).chunks(2 * spec.bins).enumerate() {
            hermitian_fill(bins, &mut buffer);
            fft.process(&mut buffer);
            for t in 0..n {
                sum[f * cfg.hop + t] += buffer[t].re / n as f64 * window[t];
                envelope[f * cfg.hop + t] += window[t] * window[t];
            }
        }
        let half = n / 2;
        out.push(
            (0..len)
                .map(|t| (sum[t + half] / envelope[t + half]) as f32)
                .collect(),
        );
    }
    Ok(out)
}

/// The full Hermitian spectrum from one-sided bins (DC and Nyquist taken as real).
fn hermitian_fill(bins: &[f32], full: &mut [Complex<f64>]) {
    let n = full.len();
    let one_sided = bins.len() / 2;
    for k in 0..one_sided {
        let im = if k == 0 || k == n / 2 {
            0.0
        } else {
            bins[2 * k + 1] as f64
        };
        full[k] = Complex::new(bins[2 * k] as f64, im);
        if k > 0 && k < n / 2 {
            full[n - k] = full[k].conj();
        }
    }
}
