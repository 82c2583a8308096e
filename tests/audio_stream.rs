//! Streaming decode (`wavesplat::audio::MonoStream`, `scan_mono`): the
//! concatenated reads equal `load_mono` bit for bit, for every decoder, rate
//! and block size, and every failure is `load_mono`'s error. A WAV header's
//! length bound (`mono_len_bound`) is the decoded length.

mod common;

use std::path::{Path, PathBuf};
use wavesplat::Error;
use wavesplat::audio::{
    DEFAULT_RATE, MonoStream, WavFormat, load_mono, mono_len_bound, resampled_len, scan_mono,
    write_wav,
};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Every sample of `path` at `rate`, read `block` at a time.
fn stream_all(path: &Path, rate: u32, block: usize) -> Result<Vec<f32>, Error> {
    let mut stream = MonoStream::open(path, rate)?;
    let mut out = Vec::new();
    loop {
        let got = stream.read(block)?;
        assert!(got.len() <= block);
        if got.is_empty() {
            return Ok(out);
        }
        out.extend(got);
    }
}

fn bits(x: &[f32]) -> Vec<u32> {
    x.iter().map(|v| v.to_bits()).collect()
}

/// Streams `path` at `rate` in blocks of 1, 7 and 4096 samples and checks
/// each against `load_mono`, and `scan_mono` against it too.
fn assert_streams_like_load_mono(path: &Path, rate: u32) {
    let whole = load_mono(path, Some(rate)).unwrap().samples;
    for block in [1, 7, 4096] {
        let streamed = stream_all(path, rate, block).unwrap();
        assert_eq!(
            streamed.len(),
            whole.len(),
            "{path:?} at {rate} Hz, blocks of {block}"
        );
        assert!(
            bits(&streamed) == bits(&whole),
            "{path:?} at {rate} Hz, blocks of {block}: samples differ"
        );
    }
    let stats = scan_mono(path, rate).unwrap();
    assert_eq!(stats.len, whole.len());
    let sum: f64 = whole.iter().map(|&x| x as f64).sum();
    assert_eq!(stats.mean.to_bits(), (sum / whole.len() as f64).to_bits());
}

/// `mono_len_bound` of `path` at `rate`: the decoded length where the header
/// bounds it (`wav`), else none.
fn assert_bound(path: &Path, rate: u32, wav: bool) {
    let bound = mono_len_bound(path, rate).unwrap();
    let expected = wav.then(|| load_mono(path, Some(rate)).unwrap().samples.len());
    assert_eq!(bound, expected, "{path:?} at {rate} Hz");
}

/// Input frames per resampler call from `from` to 22050 Hz (as `audio`'s
/// `fft_resampler` chooses them), 0 when no resampling happens.
fn resampler_chunk(from: u32) -> usize {
    let to = DEFAULT_RATE;
    if from == to {
        return 4096;
    }
    let (mut a, mut b) = (from, to);
    while b != 0 {
        (a, b) = (b, a % b);
    }
    let (block_in, block_out) = ((from / a) as usize, (to / a) as usize);
    2048usize
        .div_ceil(block_in.min(block_out))
        .next_multiple_of(2)
        * block_in
}

/// A deterministic test signal: two tones and some noise, within [-1, 1].
fn signal(len: usize, rate: u32, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    (0..len)
        .map(|i| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let noise = (state >> 40) as f64 / (1u64 << 24) as f64 - 0.5;
            let t = i as f64 / f64::from(rate);
            (0.4 * (std::f64::consts::TAU * 440.0 * t).sin()
                + 0.2 * (std::f64::consts::TAU * 3000.0 * t).sin()
                + 0.2 * noise) as f32
        })
        .collect()
}

/// A path in this test binary's scratch directory.
fn temp(name: &str) -> PathBuf {
    common::scratch("files").join(name)
}

#[test]
fn wav_streams_equal_load_mono_at_every_rate_and_length() {
    for rate in [22050, 44100, 48000, 8000] {
        let chunk = resampler_chunk(rate);
        for len in [5, chunk - 1, chunk, chunk + 1, 3 * chunk + 17] {
            let left = signal(len, rate, 1);
            let right = signal(len, rate, 2);
            let mono = temp(&format!("pcm16_{rate}_{len}.wav"));
            write_wav(&mono, &[&left], rate, WavFormat::Pcm16).unwrap();
            assert_streams_like_load_mono(&mono, DEFAULT_RATE);
            let stereo = temp(&format!("float_{rate}_{len}.wav"));
            write_wav(&stereo, &[&left, &right], rate, WavFormat::Float32).unwrap();
            assert_streams_like_load_mono(&stereo, DEFAULT_RATE);
            assert_bound(&mono, DEFAULT_RATE, true);
            assert_bound(&stereo, DEFAULT_RATE, true);
            let _ = std::fs::remove_file(mono);
            let _ = std::fs::remove_file(stereo);
        }
    }
}

#[test]
fn streams_at_the_files_own_rate_and_upsampled() {
    let path = temp("own_rate.wav");
    let x = signal(10_000, 44100, 3);
    write_wav(&path, &[&x, &x], 44100, WavFormat::Float32).unwrap();
    assert_streams_like_load_mono(&path, 44100);
    assert_streams_like_load_mono(&path, 96000);
    let _ = std::fs::remove_file(path);
}

/// A 64-bit float WAV, which hound rejects and symphonia decodes.
#[test]
fn wav_through_symphonia_streams_equal_load_mono() {
    let (rate, len) = (44100u32, 9000usize);
    let x = signal(len, rate, 4);
    let mut fmt = Vec::new();
    fmt.extend_from_slice(&3u16.to_le_bytes()); // IEEE float
    fmt.extend_from_slice(&1u16.to_le_bytes());
    fmt.extend_from_slice(&rate.to_le_bytes());
    fmt.extend_from_slice(&(rate * 8).to_le_bytes());
    fmt.extend_from_slice(&8u16.to_le_bytes());
    fmt.extend_from_slice(&64u16.to_le_bytes());
    let data: Vec<u8> = x.iter().flat_map(|&v| (v as f64).to_le_bytes()).collect();
    let mut bytes = b"RIFF".to_vec();
    bytes.extend_from_slice(&((4 + 8 + fmt.len() + 8 + data.len()) as u32).to_le_bytes());
    bytes.extend_from_slice(b"WAVEfmt ");
    bytes.extend_from_slice(&(fmt.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&fmt);
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&(data.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&data);
    let path = temp("float64.wav");
    std::fs::write(&path, bytes).unwrap();
    assert_streams_like_load_mono(&path, DEFAULT_RATE);
    let _ = std::fs::remove_file(path);
}

#[test]
fn compressed_fixtures_stream_equal_load_mono() {
    for name in [
        "sine_440_660_stereo_44100.flac",
        "sine_440_mono_22050.ogg",
        "sine_440_mono_44100.mp3",
    ] {
        assert_streams_like_load_mono(&fixture(name), DEFAULT_RATE);
        assert_streams_like_load_mono(&fixture(name), 16000);
        // Compressed headers may omit or understate the length.
        assert_bound(&fixture(name), DEFAULT_RATE, false);
    }
}

#[test]
fn scan_reports_the_source() {
    let stats = scan_mono(&fixture("sine_440_660_stereo_44100.flac"), DEFAULT_RATE).unwrap();
    assert_eq!((stats.source_rate, stats.channels), (44100, 2));
    assert_eq!(stats.len, 4410);
}

/// The stream fails (on opening or on reading) with `load_mono`'s error.
fn assert_same_error(path: &Path, rate: u32) -> Error {
    let whole = load_mono(path, Some(rate)).unwrap_err();
    let streamed = stream_all(path, rate, 4096).unwrap_err();
    assert_eq!(streamed.to_string(), whole.to_string());
    assert_eq!(
        std::mem::discriminant(&streamed),
        std::mem::discriminant(&whole)
    );
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    assert!(streamed.to_string().contains(&name), "{streamed}");
    streamed
}

#[test]
fn bad_files_fail_as_load_mono_does() {
    let empty = temp("empty.wav");
    std::fs::write(&empty, b"").unwrap();
    assert!(matches!(
        assert_same_error(&empty, DEFAULT_RATE),
        Error::EmptyAudio { .. }
    ));

    let text = temp("text.wav");
    std::fs::write(&text, "this is not audio, only words\n".repeat(20)).unwrap();
    assert!(matches!(
        assert_same_error(&text, DEFAULT_RATE),
        Error::UnsupportedFormat { .. } | Error::Decode { .. }
    ));

    let wav = temp("whole.wav");
    let x = signal(20_000, 44100, 5);
    write_wav(&wav, &[&x, &x], 44100, WavFormat::Pcm16).unwrap();
    let bytes = std::fs::read(&wav).unwrap();
    let truncated = temp("truncated.wav");
    std::fs::write(&truncated, &bytes[..bytes.len() * 2 / 3]).unwrap();
    assert!(matches!(
        assert_same_error(&truncated, DEFAULT_RATE),
        Error::Decode { .. }
    ));
    // The header still bounds the truncated file (which decodes shorter or
    // fails); an empty one has no bound, only load_mono's error.
    assert_eq!(
        mono_len_bound(&truncated, DEFAULT_RATE).unwrap(),
        Some(resampled_len(20_000, 44100, DEFAULT_RATE))
    );
    assert!(matches!(
        mono_len_bound(&empty, DEFAULT_RATE),
        Err(Error::EmptyAudio { .. })
    ));

    let flac = std::fs::read(fixture("sine_440_660_stereo_44100.flac")).unwrap();
    let cut_flac = temp("truncated.flac");
    std::fs::write(&cut_flac, &flac[..flac.len() * 6 / 10]).unwrap();
    assert!(matches!(
        assert_same_error(&cut_flac, DEFAULT_RATE),
        Error::Decode { .. }
    ));

    for path in [empty, text, wav, truncated, cut_flac] {
        let _ = std::fs::remove_file(path);
    }
}

#[test]
fn nan_in_a_float_wav_names_file_channel_and_sample() {
    let path = temp("nan.wav");
    let mut x = signal(30_000, 44100, 6);
    x[25_000] = f32::NAN;
    common::write_float_wav(&path, 44100, &x);
    let err = assert_same_error(&path, DEFAULT_RATE);
    match err {
        Error::NonFinite { what, index, .. } => {
            assert!(what.contains("channel 0"), "{what}");
            assert_eq!(index, 25_000);
        }
        other => panic!("{other:?}"),
    }
    let _ = std::fs::remove_file(path);
}

#[test]
fn a_rate_of_zero_is_a_resample_error() {
    let path = temp("rate0.wav");
    write_wav(&path, &[&signal(100, 44100, 7)], 44100, WavFormat::Pcm16).unwrap();
    assert!(matches!(
        assert_same_error(&path, 0),
        Error::Resample { .. }
    ));
    let _ = std::fs::remove_file(path);
}
