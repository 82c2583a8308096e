#!/usr/bin/env python3
"""Batch encoding against one file at a time, on the same files.

usage: bench_collection.py CORPUS_DIR [--files N] [--jobs J ...] [--backend gpu|cpu]
                           [--kbps K] [--binary target/release/wavesplat]

CORPUS_DIR is e.g. what `../shared/tools/make_corpus.py OUT batch 40` writes
(40 Bach chorales, 30 s each). The first N WAV files (sorted) are linked into
a scratch folder and encoded one file per process, then as a folder once per
--jobs value (default: 1 and 4), each from a clean output folder:

  one-by-one  a `wavesplat encode FILE -o OUT` process per file (what a user
              scripts without the scheduler: device start-up every time)
  jobs=1      `wavesplat encode DIR -o OUT --jobs 1` (one process, one file in flight)
  jobs=J      `wavesplat encode DIR -o OUT --jobs J` (J files in flight, GPU
              scoring rounds batched into shared submissions)

All three measure quality too (render + metrics), as the single-file command
always does. Prints a Markdown table: wall seconds, realtime factor, and the
speed-up over one-by-one; for folder runs the GPU idle fraction and the mean
scoring rounds per submission.
"""
import argparse, json, os, shutil, subprocess, sys, tempfile, time


def run(cmd):
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stderr}")
    return wall, done.stdout


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("corpus")
    p.add_argument("--files", type=int, default=40)
    p.add_argument("--jobs", type=int, nargs="+", default=[1, 4])
    p.add_argument("--backend", default="gpu")
    p.add_argument("--kbps", default="4")
    p.add_argument("--binary", default="target/release/wavesplat")
    a = p.parse_args()
    wavs = sorted(f for f in os.listdir(a.corpus) if f.endswith(".wav"))[: a.files]
    scratch = tempfile.mkdtemp(prefix="wavesplat-bench-collection-")
    inputs = os.path.join(scratch, "in")
    os.makedirs(inputs)
    for w in wavs:
        os.symlink(os.path.abspath(os.path.join(a.corpus, w)), os.path.join(inputs, w))
    common = ["--backend", a.backend, "--kbps", a.kbps]
    rows = []

    out = os.path.join(scratch, "one")
    os.makedirs(out)
    wall = 0.0
    audio = 0.0
    for w in wavs:
        t, text = run([a.binary, "encode", os.path.join(inputs, w), "-o",
                       os.path.join(out, w[:-4] + ".splat"), "--json"] + common)
        wall += t
        audio += json.loads(text)["seconds"]
    rows.append(("one-by-one", wall, audio, None, None))

    for jobs in a.jobs:
        out = os.path.join(scratch, f"jobs{jobs}")
        t, text = run([a.binary, "encode", inputs, "-o", out, "--jobs", str(jobs),
                       "--json", "--quiet"] + common)
        report = json.loads(text)
        assert report["encoded"] == len(wavs), report
        batching = report.get("batching")
        mean = batching["requests"] / max(1, batching["submissions"]) if batching else None
        rows.append((f"jobs={jobs}", t, report["audio_seconds"], report.get("gpu_idle_fraction"), mean))

    base = rows[0][1]
    print(f"{len(wavs)} files, {audio / 60:.1f} min of audio, backend {a.backend}, {a.kbps} kbit/s\n")
    print("| run | wall s | realtime factor | speed-up | GPU idle | rounds per submission |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, wall, seconds, idle, mean in rows:
        idle_text = f"{100 * idle:.0f}%" if idle is not None else "-"
        mean_text = f"{mean:.2f}" if mean is not None else "-"
        print(f"| {name} | {wall:.1f} | {seconds / wall:.3f}x | {base / wall:.2f}x | {idle_text} | {mean_text} |")
    shutil.rmtree(scratch)


if __name__ == "__main__":
    main()
