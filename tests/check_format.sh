#!/usr/bin/env bash
# Fails if a C or C++ file tracked in the repository is not formatted by the
# root .clang-format.
set -euo pipefail
cd "${1:?usage: check_format.sh REPO_ROOT}"
files=$(git ls-files '*.h' '*.cc' '*.c' 2>/dev/null || find include lib tests tools -name '*.h' -o -name '*.cc' -o -name '*.c')
[[ -n "$files" ]] || { echo "no sources found" >&2; exit 1; }
# shellcheck disable=SC2086
clang-format --dry-run -Werror $files
echo "format ok: $(echo "$files" | wc -l) files"
