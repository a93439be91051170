#!/bin/bash
# The examples as a user runs them: train_sample trains the checkerboard and
# saves it (failing when too few samples land on the board), likelihood loads
# that checkpoint and evaluates v and log p (failing on a non-finite value).
#   examples.sh TRAIN_SAMPLE LIKELIHOOD
set -eu
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$1" "$dir/checkerboard.safetensors"
"$2" "$dir/checkerboard.safetensors"
