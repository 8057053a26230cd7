#!/bin/sh
# Lists the regular files below a directory: SIZE_BYTES, LINES, KIND (text|binary|empty), PATH; then a total.
# POSIX sh and coreutils only, so it runs in any image. Symlinks are never followed.
set -eu

root=${1:-.}
if [ ! -d "$root" ]; then
    echo "inventory.sh: $root is not a directory" >&2
    exit 2
fi
cd "$root"

files=0
bytes=0
list=$(mktemp)
trap 'rm -f "$list"' EXIT
find . \( -path ./.git -o -path ./.claude \) -prune -o -type f -print | LC_ALL=C sort > "$list"
while IFS= read -r path; do
    size=$(wc -c < "$path")
    if [ "$size" -eq 0 ]; then
        kind=empty
        lines=0
    elif ! LC_ALL=C grep -Iq '' "$path" 2>/dev/null; then
        # grep -I treats a file with NUL bytes as matching nothing, even the empty pattern.
        kind=binary
        lines=-
    else
        kind=text
        lines=$(wc -l < "$path")
    fi
    printf '%s\t%s\t%s\t%s\n' "$size" "$lines" "$kind" "${path#./}"
    files=$((files + 1))
    bytes=$((bytes + size))
done < "$list"
printf 'total\t%s files\t%s bytes\n' "$files" "$bytes"
