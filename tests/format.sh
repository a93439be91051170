#!/bin/bash
# The C sources follow .clang-format: prints each file's difference and fails
# on any; skips (77) without clang-format 14. tools/format.sh fixes them.
#   format.sh ROOT
exec "$(dirname "$0")/../tools/format.sh" --check "$1"
