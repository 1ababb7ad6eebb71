#!/usr/bin/env bash
# Install the built extension into the PostgreSQL 15 installation, with sudo
# when the current user cannot write there.
set -euo pipefail
cd "$(dirname "$0")/../.."
pg_config=/usr/lib/postgresql/15/bin/pg_config
if [ -w "$($pg_config --pkglibdir)" ] && [ -w "$($pg_config --sharedir)/extension" ]; then
  make --no-print-directory -s install >/dev/null
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo make --no-print-directory -s install >/dev/null
else
  echo "onshikaku: cannot write to the PostgreSQL installation. Run: sudo make install" >&2
  exit 1
fi
