#!/usr/bin/env bash
# Build and run the C unit tests of the identifier core (no server needed).
set -euo pipefail
cd "$(dirname "$0")/../.."
${CC:-cc} -std=c99 -O2 -Wall -Wextra -Werror -Iextension \
  -o test/unit/test_ident extension/ident.c test/unit/test_ident.c
exec test/unit/test_ident
