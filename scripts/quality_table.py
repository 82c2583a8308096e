#!/usr/bin/env python3
"""The README's quality table: wavesplat against Opus on the corpus music clips.

For every music clip (a .wav with a .csv of note labels beside it) in the
corpus, encodes and decodes with wavesplat at each --kbps (compact form) and
with opusenc/opusdec at each Opus bitrate, then measures every decoding
against the clip with `wavesplat eval --json` (mel distance, STFT distance;
bitrate from the coded file's bytes). Prints a markdown table of per-clip
results and one of means.

    python3 scripts/quality_table.py [--corpus ../shared/corpus] [--clips a,b]
        [--kbps 2,4,8] [--opus 6,8,12] [--backend cpu|gpu] [--work DIR]

Needs a release build (cargo build --release) and opus-tools
(apt-get install -y opus-tools). Not run by CI.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(cmd):
    out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "XDG_RUNTIME_DIR": "/tmp"})
    if out.returncode != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed:\n{out.stderr}")
    return out.stdout


def evaluate(wavesplat, ref, test, coded):
    m = json.loads(run([wavesplat, "eval", ref, test, "--json", "--resample", "--bytes", str(coded.stat().st_size)]))
    return m


def wavesplat_row(wavesplat, clip, kbps, work, backend):
    splat = work / f"{clip.stem}_{kbps}k.splat"
    wav = work / f"{clip.stem}_{kbps}k.wav"
    start = time.perf_counter()
    summary = json.loads(run([wavesplat, "encode", clip, "-o", splat, "--kbps", str(kbps), "--backend", backend, "--json"]))
    run([wavesplat, "decode", splat, "-o", wav, "--backend", backend])
    m = evaluate(wavesplat, clip, wav, splat)
    return {
        "codec": "wavesplat",
        "setting": f"{kbps} kbit/s",
        "events_per_second": summary["events_per_second"],
        "kbps": m["bitrate_kbps"],
        "mel": m["mel_dist"],
        "stft": m["stft_dist"],
        "realtime": summary["realtime_factor"],
        "wall": time.perf_counter() - start,
    }


def opus_row(wavesplat, clip, kbps, work):
    coded = work / f"{clip.stem}_{kbps}k.opus"
    wav = work / f"{clip.stem}_{kbps}k_opus.wav"
    run(["opusenc", "--quiet", "--bitrate", str(kbps), clip, coded])
    run(["opusdec", "--quiet", "--rate", "22050", coded, wav])
    m = evaluate(wavesplat, clip, wav, coded)
    return {
        "codec": "Opus",
        "setting": f"{kbps} kbit/s",
        "events_per_second": None,
        "kbps": m["bitrate_kbps"],
        "mel": m["mel_dist"],
        "stft": m["stft_dist"],
    }


def fmt(v, digits=3):
    return "–" if v is None else f"{v:.{digits}f}"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"))
    p.add_argument("--clips", help="comma-separated clip names (stems); default all music clips")
    p.add_argument("--kbps", default="2,4,8")
    p.add_argument("--opus", default="6,8,12")
    p.add_argument("--backend", default="cpu", choices=["cpu", "gpu"])
    p.add_argument("--wavesplat", default=str(ROOT / "target" / "release" / "wavesplat"))
    p.add_argument("--work", help="directory for the coded and decoded files (default: a temporary one)")
    args = p.parse_args()

    clips = sorted(w for w in Path(args.corpus).glob("*.wav") if w.with_suffix(".csv").exists())
    if args.clips:
        wanted = set(args.clips.split(","))
        clips = [c for c in clips if c.stem in wanted]
    if not clips:
        sys.exit(f"no music clips (.wav with a .csv) in {args.corpus}")
    work = Path(args.work or tempfile.mkdtemp(prefix="wavesplat-quality-"))
    work.mkdir(parents=True, exist_ok=True)

    rows = []
    for clip in clips:
        for k in args.kbps.split(","):
            rows.append({"clip": clip.stem, **wavesplat_row(args.wavesplat, clip, k, work, args.backend)})
            print(f"{clip.stem} wavesplat {k}: mel {rows[-1]['mel']:.3f}", file=sys.stderr)
        for k in args.opus.split(","):
            rows.append({"clip": clip.stem, **opus_row(args.wavesplat, clip, k, work)})
            print(f"{clip.stem} Opus {k}: mel {rows[-1]['mel']:.3f}", file=sys.stderr)

    print("| clip | codec | setting | events/s | kbit/s (file) | mel distance | STFT distance |")
    print("|---|---|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['clip']} | {r['codec']} | {r['setting']} | {fmt(r['events_per_second'], 1)} | "
              f"{fmt(r['kbps'], 2)} | {fmt(r['mel'])} | {fmt(r['stft'])} |")
    print()
    print(f"Means over {len(clips)} clips:")
    print()
    print("| codec | setting | events/s | kbit/s (file) | mel distance | STFT distance |")
    print("|---|---|---:|---:|---:|---:|")
    settings = []
    for r in rows:
        key = (r["codec"], r["setting"])
        if key not in settings:
            settings.append(key)
    for codec, setting in settings:
        group = [r for r in rows if (r["codec"], r["setting"]) == (codec, setting)]
        mean = lambda k: None if group[0][k] is None else sum(r[k] for r in group) / len(group)
        print(f"| {codec} | {setting} | {fmt(mean('events_per_second'), 1)} | {fmt(mean('kbps'), 2)} | "
              f"{fmt(mean('mel'))} | {fmt(mean('stft'))} |")
    realtime = [r["realtime"] for r in rows if r["codec"] == "wavesplat"]
    print()
    print(f"wavesplat encoding ({args.backend} backend): mean realtime factor {sum(realtime) / len(realtime):.2f}x")


if __name__ == "__main__":
    main()
