#!/usr/bin/env python3
"""Writes torch_convention.json: STFTs computed the way torch.stft does with
center=True, pad_mode="reflect", onesided=True, normalized=False and
window=torch.hann_window(n_fft) (periodic), using numpy only:
np.pad(mode="reflect") is the same reflection torch uses, and np.hanning(n+1)[:-1]
is the periodic Hann window. Output is frames x bins (torch gives bins x frames).

Run: python3 tests/data/torch_convention.py > tests/data/torch_convention.json
"""
import json
import numpy as np

def torch_like_stft(x, n_fft, hop):
    window = np.hanning(n_fft + 1)[:-1]
    padded = np.pad(x, (n_fft // 2, n_fft // 2), mode="reflect")
    frames = 1 + (len(padded) - n_fft) // hop
    return np.stack([np.fft.rfft(padded[f * hop:f * hop + n_fft] * window) for f in range(frames)])

rng = np.random.default_rng(20261121)
cases = []
for n_fft, hop, length in [(16, 5, 37), (64, 16, 200), (256, 100, 1001)]:
    x = rng.uniform(-1, 1, length).astype(np.float32)
    s = torch_like_stft(x.astype(np.float64), n_fft, hop)
    cases.append({"n_fft": n_fft, "hop": hop, "signal": x.tolist(),
                  "frames": s.shape[0], "bins": s.shape[1],
                  "re": s.real.ravel().tolist(), "im": s.imag.ravel().tolist()})
print(json.dumps({"cases": cases}))
