#!/usr/bin/env python3
"""Writes the metrics fixtures tests/metrics.rs checks against (numpy + soundfile).

usage: make_metrics_fixtures.py AUDIO_METRICS_PY SOURCE_WAV OUT_DIR

- metrics_ref.wav: 1.0 s of SOURCE_WAV from 3.0 s on (16-bit PCM, 22050 Hz).
- metrics_lowpass.wav: the reference through a 63-tap Hann-windowed sinc low-pass at 3 kHz.
- metrics_noise.wav: the reference plus seeded white noise at 20 dB SNR.
- metrics_quantised.wav: the reference rounded to 6 bits.
- metrics_reference.json: audio_metrics.metrics() for every case below, and
  audio_metrics.mel_fb() for a few (rate, n_fft, n_mels), sparse.

Cases whose test signal is derived in memory (exact in f32 and f64 alike, so the
Rust test derives them the same way): "gain:G" multiplies the reference by G,
"delay:D" prepends D zeros (the test is then D samples longer, so the metrics
truncate it), "head:N" keeps the first N samples (the test is shorter),
"zeros" is silence as long as the reference. "rate" is the rate given to
metrics() (the mel filterbank is the only thing it changes).
"""
import importlib.util
import json
import os
import sys

import numpy as np
import soundfile as sf

spec = importlib.util.spec_from_file_location("audio_metrics", sys.argv[1])
am = importlib.util.module_from_spec(spec)
spec.loader.exec_module(am)
source, out_dir = sys.argv[2], sys.argv[3]

x, sr = sf.read(source, dtype="float64", always_2d=True)
x = x.mean(axis=1)
assert sr == 22050, sr
ref = x[3 * sr : 4 * sr]


def write(name, signal):
    path = os.path.join(out_dir, name)
    sf.write(path, signal, sr, subtype="PCM_16")
    return am.load(path)[0]


ref = write("metrics_ref.wav", ref)
taps = np.arange(63) - 31
cutoff = 3000.0 / sr
h = 2 * cutoff * np.sinc(2 * cutoff * taps) * np.hanning(65)[1:-1]
write("metrics_lowpass.wav", np.convolve(ref, h / h.sum(), mode="same"))
noise = np.random.default_rng(20261121).standard_normal(len(ref))
noise *= np.sqrt(np.mean(ref**2) / np.mean(noise**2)) * 10 ** (-20 / 20)
write("metrics_noise.wav", np.clip(ref + noise, -1, 1 - 2**-15))
write("metrics_quantised.wav", np.round(ref * 32) / 32)


def derive(kind):
    if kind.startswith("gain:"):
        return ref * float(kind[5:])
    if kind.startswith("delay:"):
        return np.concatenate([np.zeros(int(kind[6:])), ref])
    if kind.startswith("head:"):
        return ref[: int(kind[5:])]
    if kind == "zeros":
        return np.zeros(len(ref))
    return am.load(os.path.join(out_dir, kind))[0]


def finite_or_none(v):
    return v if np.isfinite(v) else None


cases = []
for test, rate in [
    ("metrics_ref.wav", sr),
    ("metrics_lowpass.wav", sr),
    ("metrics_noise.wav", sr),
    ("metrics_quantised.wav", sr),
    ("gain:0.5", sr),
    ("delay:37", sr),
    ("head:15000", sr),
    ("zeros", sr),
    ("metrics_lowpass.wav", 44100),
    ("metrics_noise.wav", 16000),
]:
    m = am.metrics(ref, derive(test), rate)
    cases.append({"test": test, "rate": rate, **{k: finite_or_none(v) for k, v in m.items()}})

filterbanks = []
for rate, n_fft, n_mels in [(22050, 32, 5), (22050, 256, 40), (44100, 2048, 320), (16000, 512, 80)]:
    fb = am.mel_fb(rate, n_fft, n_mels)
    # Each row as its first nonzero bin and the weights from there to its last nonzero bin.
    rows = []
    for row in fb:
        nz = np.flatnonzero(row)
        rows.append({"first": int(nz[0]), "weights": row[nz[0] : nz[-1] + 1].tolist()} if len(nz) else None)
    filterbanks.append({"rate": rate, "n_fft": n_fft, "n_mels": n_mels, "bins": fb.shape[1], "rows": rows})

with open(os.path.join(out_dir, "metrics_reference.json"), "w") as f:
    json.dump({"reference": "metrics_ref.wav", "cases": cases, "filterbanks": filterbanks}, f)
    f.write("\n")
print(json.dumps(cases, indent=1))
