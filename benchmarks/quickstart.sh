#!/usr/bin/env bash
# Times README.md's Quickstart block as a new user runs it: a fresh clone, a fresh venv, an empty cache; then
# scores the run with `xgan eval` (not timed).
#   bash benchmarks/quickstart.sh            prints "quickstart_seconds N" last
#   bash benchmarks/quickstart.sh --readme   also writes the figures into README.md's quickstart block
# It prints the CPU (lscpu) first: the figure depends on it. An AVX2-only CPU is much slower than one with AVX-512;
# to estimate one on the other, set ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 (torch's kernels then use AVX2
# only), which this script passes on to the timed command.
set -euo pipefail
lscpu | grep -E '^(Model name|CPU\(s\)|Thread|Core|Socket)' || true
lscpu | grep -q avx512f && echo "ISA: AVX-512" || echo "ISA: AVX2 or less"
echo "ATEN_CPU_CAPABILITY=${ATEN_CPU_CAPABILITY:-} ONEDNN_MAX_CPU_ISA=${ONEDNN_MAX_CPU_ISA:-}"
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone -q "$repo" "$work/xgan"
cd "$work/xgan"
command=$(awk '/^## Quickstart/{s=1; next} /^## /{s=0} s && /^```bash/{b=1; next} b && /^```/{exit} b{print}' README.md)
echo "+ $command"
start=$(date +%s)
XGAN_CACHE="$work/cache" bash -euo pipefail -c "$command"
end=$(date +%s)
seconds=$((end - start))
ls runs/digits/samples | tail -1 | sed "s|^|last sample grid: runs/digits/samples/|"
XGAN_CACHE="$work/cache" .venv/bin/xgan eval runs/digits | tee "$work/eval.txt"
rm -rf "${QUICKSTART_RUN:-/tmp/quickstart_run}" && cp -r runs/digits "${QUICKSTART_RUN:-/tmp/quickstart_run}"
echo "run kept in ${QUICKSTART_RUN:-/tmp/quickstart_run}"
if [ "${1:-}" = "--readme" ]; then
  metric() { awk -v m="$1" '$1 == m {print $2}' "$work/eval.txt"; }
  steps=$(awk '/^  steps:/{print $2; exit}' runs/digits/config.yaml)
  cpu="$(lscpu | awk -F: '/^Model name/{gsub(/^ +/, "", $2); print $2}'), $(lscpu | grep -q avx512f && echo AVX-512 || echo AVX2)"
  [ -n "${ATEN_CPU_CAPABILITY:-}" ] && cpu="$cpu, kernels limited to ATEN_CPU_CAPABILITY=$ATEN_CPU_CAPABILITY"
  cat <<TEXT | python3 "$repo/benchmarks/readme_block.py" quickstart
On a 2-core CPU without GPU ($cpu) it measured **${seconds} s** (install, rendering 22,000 printed
digits, training the teacher and the task's two judges, ${steps} steps). \`xgan eval runs/digits\` then scores the
final checkpoint on the full test splits: class preservation **A→B $(metric class_preservation_strong_ab)** under
the strong judge ($(metric class_preservation_ab) under the task's own), B→A $(metric class_preservation_strong_ba)
($(metric class_preservation_ba)); judges' ceilings $(metric classifier_ceiling_strong_b) and
$(metric classifier_ceiling_strong_a) (own: $(metric classifier_ceiling_b) and $(metric classifier_ceiling_a));
semantic distance $(metric semantic_distance).
TEXT
fi
echo "quickstart_seconds $seconds"
