#!/usr/bin/env bash
# make test's short fuzz run: one million inputs through every identifier
# parser under ASan and UBSan (make fuzz runs longer).
cd "$(dirname "$0")/../.."
if test/fuzz/run.sh 1000000; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; exit 1; fi
