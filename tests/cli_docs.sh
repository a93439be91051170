#!/bin/bash
# docs/CLI.md against the command's own help, so that neither drifts (no device needed):
#   cli_docs.sh FMCL SRCDIR
# - the commands of `fmcl --help` are exactly the `## fmcl COMMAND` sections of CLI.md;
# - every flag of `fmcl COMMAND --help` is in the first column of that section's flag table,
#   and every flag there is in the help (--help itself only needs a mention somewhere);
# - the demo's settings, as `fmcl train` without arguments announces them, are the ones that
#   CLI.md and README.md give, verbatim;
# - every `--flag` on an example line (`fmcl COMMAND ...` in a code block) of README.md and
#   docs/*.md exists in that command's help.
set -u
FMCL=$1
DOC=$2/docs/CLI.md
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# The lines of a help text's "flags:" section that start a flag ("  --name ARG", "  --help, -h").
help_flags() {
    awk '/^flags:/ {f = 1; next} f && /^[^ ]/ {f = 0} f && /^  --/' |
        grep -oE -- '--[a-z][a-z0-9-]*' | sort -u
}

# The `--flags` in the first column of the flag table of section "## fmcl $1".
doc_flags() {
    awk -v want="## fmcl $1" '/^## / {s = ($0 == want); next}
        s && /^\| *`--/ {split($0, col, /(^|[^\\])\|/); print col[2]}' "$DOC" |
        grep -oE -- '--[a-z][a-z0-9-]*' | sort -u
}

[ -x "$FMCL" ] || { echo "FAIL: $FMCL is not an executable"; exit 1; }
[ -r "$DOC" ] || { echo "FAIL: cannot read $DOC"; exit 1; }

commands=$("$FMCL" --help | awk '/^commands:/ {f = 1; next} f && /^  [a-z]/ {print $1} f && /^$/ {f = 0}')
[ -n "$commands" ] || bad "no commands parsed from '$FMCL --help'"
sections=$(sed -n 's/^## fmcl \([a-z]*\)$/\1/p' "$DOC")
for c in $commands; do
    grep -qx "$c" <<<"$sections" || bad "$DOC has no section '## fmcl $c'"
done
for s in $sections; do
    grep -qx "$s" <<<"$commands" || bad "$DOC has a section '## fmcl $s' but fmcl has no such command"
done
grep -q -- '--help' "$DOC" || bad "$DOC never mentions --help"

checked=0
declare -A HELP # command -> the flags of its --help, one a line
for c in $commands; do
    help=$("$FMCL" "$c" --help) || { bad "'fmcl $c --help' exited with $?"; continue; }
    HELP[$c]=$(help_flags <<<"$help")
    hf=$(grep -vx -- '--help' <<<"${HELP[$c]}")
    df=$(doc_flags "$c")
    [ -n "$hf" ] || bad "no flags parsed from 'fmcl $c --help'"
    for f in $hf; do
        checked=$((checked + 1))
        grep -qx -- "$f" <<<"$df" ||
            bad "'fmcl $c --help' lists $f but the flag table of '## fmcl $c' in $DOC does not"
    done
    for f in $df; do
        grep -qx -- "$f" <<<"$hf" ||
            bad "the flag table of '## fmcl $c' in $DOC lists $f but 'fmcl $c --help' does not"
    done
done

# Example lines: indented code or fenced blocks, "fmcl COMMAND ..." with an optional "$ ".
examples=0
for file in "$2"/README.md "$2"/docs/*.md; do
    while IFS=$'\t' read -r line c rest; do
        [ -n "${HELP[$c]+set}" ] || { bad "$file:$line: 'fmcl $c' is no command"; continue; }
        hf=${HELP[$c]}
        for f in $(grep -oE -- '(^|[ [])--[a-z][a-z0-9-]*' <<<"${rest%%#*}" | tr -d ' ['); do
            examples=$((examples + 1))
            grep -qx -- "$f" <<<"$hf" ||
                bad "$file:$line: 'fmcl $c' example uses $f, which 'fmcl $c --help' does not list"
        done
    done < <(awk '/^ *```/ {fence = !fence; next}
        (fence || /^    /) && match($0, /^ *(\$ )?(build\/tools\/)?fmcl [a-z]+( |$)/) {
            n = split(substr($0, RSTART, RLENGTH), w, " "); cmd = w[n]
            printf "%d\t%s\t%s\n", NR, cmd, substr($0, RSTART + RLENGTH)
        }' "$file")
done

# The demo: `fmcl train` with no arguments names its settings on its first line, before it
# looks for a device; it is stopped there (in a scratch folder, so no run folder is left).
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fmcl_path=$(realpath "$FMCL")
(cd "$tmp" && exec "$fmcl_path" train >/dev/null 2>"$tmp/err") &
pid=$!
for _ in $(seq 100); do grep -q 'short demo: ' "$tmp/err" && break; sleep 0.1; done
kill -KILL "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
demo=$(sed -n 's/.*short demo: \(--[^(]*[^ (]\) *(.*/\1/p' "$tmp/err")
if [ -z "$demo" ]; then
    bad "'fmcl train' without arguments did not announce the demo's settings:" \
        "$(head -c 300 "$tmp/err")"
else
    for file in "$DOC" "$2/README.md"; do
        grep -qF -- "\`$demo\`" "$file" ||
            bad "$file does not give the demo's settings as 'fmcl train' announces them: \`$demo\`"
    done
fi

echo "$checked flags of $(wc -w <<<"$commands") commands checked against $DOC;" \
    "$examples example flags checked"
[ "$checked" -gt 0 ] || bad "no flags were checked"
[ "$examples" -gt 0 ] || bad "no example flags were checked (no example line found)"
exit $fail
