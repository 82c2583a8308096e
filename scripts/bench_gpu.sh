#!/usr/bin/env bash
# Every benchmark BENCHMARKS.md records, in one run on this machine's GPU,
# for the "Real GPU" sections (none has been lent to the project yet).
#
#   scripts/bench_gpu.sh OUT_DIR [CORPUS_DIR]
#
# Writes OUT_DIR/info.json and OUT_DIR/{stft,fft,conv,render,gp}.json (each
# `wavesplat bench KERNEL --json`), prints the STFT table with the issue's
# target checked (n_fft <= 2048 at 60 % or more of the copy bandwidth), runs
# `cargo bench` into OUT_DIR/cargo_bench.txt, and with CORPUS_DIR (e.g.
# what `../shared/tools/make_corpus.py OUT batch 40` writes) runs
# scripts/bench_collection.py into OUT_DIR/collection.md.
# Exits non-zero if a benchmark fails or the adapter is a software one
# (lavapipe figures belong in the lavapipe sections, made with the commands
# given there).
set -euo pipefail

out=${1:?usage: scripts/bench_gpu.sh OUT_DIR [CORPUS_DIR]}
corpus=${2:-}
cd "$(dirname "$0")/.."
mkdir -p "$out"
cargo build --release --quiet
bin=target/release/wavesplat

"$bin" info --json >"$out/info.json"
"$bin" info
if python3 -c 'import json, sys; sys.exit(not json.load(open(sys.argv[1]))["is_software"])' \
    "$out/info.json"; then
    echo "error: the adapter is a software rasteriser; set WGPU_ADAPTER_NAME to a GPU" >&2
    exit 1
fi

for kernel in stft fft conv render gp; do
    echo "== wavesplat bench $kernel --json" >&2
    "$bin" bench "$kernel" --json >"$out/$kernel.json"
done

python3 - "$out/stft.json" <<'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
copy = report["copy"]["bytes_per_second"] / 1e9
print(f"\ncopy bandwidth {copy:.1f} GB/s ({report['timing']})")
print("| n_fft | GPU frames/s | GPU GB/s | of copy | target |")
print("|------:|-------------:|---------:|--------:|:-------|")
missed = 0
for row in report["sizes"]:
    fraction = row["fraction_of_copy"]
    target = "-"
    if row["n_fft"] <= 2048:
        target = "met (>= 60 %)" if fraction >= 0.6 else "MISSED (< 60 %)"
        missed += fraction < 0.6
    print(f"| {row['n_fft']} | {row['gpu_frames_per_second']:.0f} | "
          f"{row['gpu_bytes_per_second'] / 1e9:.1f} | {100 * fraction:.0f} % | {target} |")
print(f"\nn_fft <= 2048 below 60 % of copy: {missed}")
EOF

echo "== cargo bench" >&2
cargo bench 2>&1 | tee "$out/cargo_bench.txt"

if [[ -n "$corpus" ]]; then
    echo "== scripts/bench_collection.py $corpus --files 40 --backend gpu --jobs 1 4 8" >&2
    python3 scripts/bench_collection.py "$corpus" --files 40 --backend gpu --jobs 1 4 8 \
        | tee "$out/collection.md"
fi
echo "wrote $out" >&2
