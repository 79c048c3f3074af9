#!/usr/bin/env bash
# Times README.md's Quickstart block as a new user runs it: a fresh clone, a fresh venv, an empty cache.
#   bash benchmarks/quickstart.sh            prints "quickstart_seconds N" last
set -euo pipefail
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
ls runs/digits/samples | tail -1 | sed "s|^|last sample grid: runs/digits/samples/|"
rm -rf "${QUICKSTART_RUN:-/tmp/quickstart_run}" && cp -r runs/digits "${QUICKSTART_RUN:-/tmp/quickstart_run}"
echo "run kept in ${QUICKSTART_RUN:-/tmp/quickstart_run}"
echo "quickstart_seconds $((end - start))"
