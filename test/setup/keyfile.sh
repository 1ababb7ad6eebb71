#!/usr/bin/env bash
# Generate a throwaway onshikaku key file with standard tools and point a
# cluster at it.
#
#   test/setup/keyfile.sh FILE [OWNER]          write FILE (mode 600) with kek.1 and blind_index
#   test/setup/keyfile.sh --add-kek FILE ID     append a new master key kek.ID (for rotation)
#
# Each key is 32 bytes from /dev/urandom as 64 hex digits; on a real server
# use the same format (docs/keys.md) and keep the file off the data volume.
set -euo pipefail
hex32() { od -An -tx1 -N32 /dev/urandom | tr -d ' \n'; }
if [ "${1:-}" = "--add-kek" ]; then
  printf 'kek.%s = %s\n' "$3" "$(hex32)" >> "$2"
  exit 0
fi
file=${1:?usage: keyfile.sh FILE [OWNER]}
owner=${2:-$(id -un)}
umask 077
{
  echo "# onshikaku key file: master keys (kek.<id>) and the blind-index key."
  echo "# Generated $(date -u +%FT%TZ) for a throwaway cluster."
  printf 'kek.1 = %s\n' "$(hex32)"
  printf 'blind_index = %s\n' "$(hex32)"
} > "$file"
chmod 600 "$file"
[ "$owner" != "$(id -un)" ] && chown "$owner" "$file"
exit 0
