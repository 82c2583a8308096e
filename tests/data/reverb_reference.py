#!/usr/bin/env python3
"""Checks `wavesplat convolve` against an independent FFT convolution in numpy.

usage: reverb_reference.py INPUT.wav IR.wav WAVESPLAT_OUTPUT.wav
Computes the full linear convolution of every (input, IR) channel pair in
float64 with numpy.fft (zero-padded to a power of two, no partitioning), the
same channel pairing as wavesplat (equal counts pair up; one input channel
goes through every IR channel), and prints the relative error
||wavesplat - numpy|| / ||numpy|| per channel. Both files must share a rate.
"""
import sys
import numpy as np
import soundfile as sf

x, sr_x = sf.read(sys.argv[1], dtype="float64", always_2d=True)
h, sr_h = sf.read(sys.argv[2], dtype="float64", always_2d=True)
y, sr_y = sf.read(sys.argv[3], dtype="float64", always_2d=True)
assert sr_x == sr_h == sr_y, (sr_x, sr_h, sr_y)
pairs = [(c if x.shape[1] > 1 else 0, c if h.shape[1] > 1 else 0) for c in range(max(x.shape[1], h.shape[1]))]
n = len(x) + len(h) - 1
size = 1 << (n - 1).bit_length()
for c, (i, k) in enumerate(pairs):
    ref = np.fft.irfft(np.fft.rfft(x[:, i], size) * np.fft.rfft(h[:, k], size), size)[:n]
    err = np.linalg.norm(y[:n, c] - ref) / np.linalg.norm(ref)
    print(f"channel {c}: {len(y)} samples (expected {n}), relative error {err:.2e}")
