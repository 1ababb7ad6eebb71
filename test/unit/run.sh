#!/usr/bin/env bash
# Build and run the C unit tests of the server-independent layers
# (identifier core, crypto primitives); each prints TAP.
set -euo pipefail
cd "$(dirname "$0")/../.."
cc=${CC:-cc}
flags=(-std=c11 -O2 -Wall -Wextra -Werror -Iextension -Itest/unit)
$cc "${flags[@]}" -o test/unit/test_ident extension/ident.c test/unit/test_ident.c
$cc "${flags[@]}" -o test/unit/test_crypto extension/crypto.c test/unit/test_crypto.c -lcrypto
rc=0
test/unit/test_ident || rc=1
test/unit/test_crypto || rc=1
exit $rc
