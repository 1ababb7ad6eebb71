#!/usr/bin/env bash
# make fuzz: build the libFuzzer harness with ASan and UBSan and run it for a
# bounded number of runs (default 2,000,000; first argument overrides).
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-2000000}
out=test/fuzz/fuzz_identifiers
corpus=test/fuzz/corpus
clang -g -O1 -std=c99 -Iextension -fsanitize=fuzzer,address,undefined \
  -fno-sanitize-recover=all -o "$out" extension/ident.c test/fuzz/fuzz_identifiers.c
# seed corpus: one valid value per kind (kind byte + text)
mkdir -p "$corpus"
i=0
for v in 123456789018 01130012 12130019 1234566 1311312347 07 1234567890123452 1234567890123452 1234567890123452; do
  printf "\\$(printf '%03o' $i)%s" "$v" > "$corpus/seed-$i"
  i=$((i + 1))
done
UBSAN_OPTIONS=halt_on_error=1 "$out" -runs="$runs" -max_len=64 -seed=1 "$corpus" 2>&1 | tail -3
echo "fuzz: $runs runs without a finding"
