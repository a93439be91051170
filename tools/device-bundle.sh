#!/bin/sh
# Fetches into a folder (default .bundle/ at the top of the tree, ignored by git)
# the Debian 12 packages that building and running fmcl needs and that a bare
# machine may lack, so tools/device-check.sh can build fmcl on a GPU machine
# with no package registry (docs/PORTABILITY.md, "Running on a GPU machine
# without a registry"). Run it here, on Debian, where `apt-get download` works;
# carry the folder to the other machine beside the tree.
#
#   tools/device-bundle.sh [FOLDER]
#
# The packages named in DEVCHECK_PACKAGES (below, or from the environment) are
# fetched with their dependencies, resolved recursively, except those every
# Debian or Ubuntu system already has (Essential or Priority required) and the
# C library, compiler runtime and Python, which the bundle must not replace:
# it only adds libraries and tools beside the machine's own.
set -eu

# What fmcl's meson.build asks pkg-config for (OpenCL, clblast, stb, zlib,
# libpng, libjpeg), pkg-config itself, and meson and ninja in case the machine
# has none (it runs the machine's own first). zlib1g is named although every
# system has zlib: the libz.so link in zlib1g-dev points at its exact file
# name. To add a library, add its -dev package and its library package here.
default_packages="ocl-icd-libopencl1 ocl-icd-opencl-dev opencl-headers opencl-c-headers \
libclblast1 libclblast-dev libstb0 libstb-dev zlib1g zlib1g-dev \
libpng16-16 libpng-dev libjpeg62-turbo libjpeg62-turbo-dev \
pkg-config pkgconf pkgconf-bin libpkgconf3 meson ninja-build"
packages="${DEVCHECK_PACKAGES:-$default_packages}"

# Never bundled, even as a dependency: the machine's C library, its compiler's
# runtime and its Python (names, or prefixes ending in '*').
never="libc6 libc6-dev libc-dev libc-dev-bin libgcc-s1 libstdc++6 linux-libc-dev python3 python3-*"

top="$(cd "$(dirname "$0")/.." && pwd)"
dest="${1:-$top/.bundle}"

die() {
    echo "device-bundle: $*" >&2
    exit 1
}

command -v apt-get >/dev/null 2>&1 || die "needs apt-get (run it on Debian 12, like the CI machine)"
# apt-cache is slow to start: ask it once per package.
info="$(mktemp -d)"
trap 'rm -rf "$info"' EXIT
field() { # field PACKAGE NAME: the candidate version's control field NAME, or nothing
    [ -f "$info/$1" ] || apt-cache show --no-all-versions "$1" >"$info/$1" 2>/dev/null || true
    sed -n "s/^$2: //p" "$info/$1" | head -n 1
}

for p in $packages; do
    [ -n "$(field "$p" Version)" ] ||
        die "apt does not know the package '$p'" \
            "(run 'apt-get update' first, or fix DEVCHECK_PACKAGES)"
done

is_never() {
    for n in $never; do
        # shellcheck disable=SC2254 # the entries are patterns on purpose
        case "$1" in $n) return 0 ;; esac
    done
    return 1
}

# Breadth-first over Depends and Pre-Depends. Of alternatives (a | b) the first
# one already chosen wins, else the first that apt can fetch; version
# constraints and ':any' are dropped (the candidates come from one release).
chosen=" "
skipped=""
queue="$packages"
while [ -n "$queue" ]; do
    # shellcheck disable=SC2086 # the queue is meant to split into words
    set -- $queue
    p="$1"
    shift
    queue="$*"
    case "$chosen" in *" $p "*) continue ;; esac
    case " $packages " in
        *" $p "*) ;;
        *)
            if is_never "$p" || [ "$(field "$p" Essential)" = yes ] ||
                [ "$(field "$p" Priority)" = required ]; then
                case " $skipped " in *" $p "*) ;; *) skipped="$skipped $p" ;; esac
                continue
            fi
            ;;
    esac
    chosen="$chosen$p "
    deps="$(field "$p" Pre-Depends), $(field "$p" Depends)"
    old_ifs="$IFS"
    IFS=','
    for group in $deps; do
        IFS="$old_ifs"
        pick=""
        for alt in $(printf '%s\n' "$group" | sed 's/([^)]*)//g; s/:any//g; s/|/ /g'); do
            case "$chosen" in *" $alt "*) pick="$alt"; break ;; esac
        done
        if [ -z "$pick" ]; then
            for alt in $(printf '%s\n' "$group" | sed 's/([^)]*)//g; s/:any//g; s/|/ /g'); do
                if [ -n "$(field "$alt" Version)" ]; then pick="$alt"; break; fi
            done
        fi
        if [ -n "$pick" ]; then
            queue="$queue $pick"
        elif [ -n "$(printf '%s' "$group" | tr -d ' ')" ]; then
            echo "device-bundle: note: no package provides '$group' (needed by $p); left out" >&2
        fi
        IFS=','
    done
    IFS="$old_ifs"
done

mkdir -p "$dest"
rm -f "$dest"/*.deb "$dest/MANIFEST"
echo "device-bundle: fetching$chosen into $dest"
# apt-get download writes into the current folder.
# shellcheck disable=SC2086 # the list is meant to split into words
(cd "$dest" && apt-get download -q -o APT::Sandbox::User=root $chosen >/dev/null)

commit="$(git -C "$top" describe --always --dirty 2>/dev/null || echo unknown)"
{
    echo "# fmcl device bundle: Debian packages for tools/device-check.sh"
    # shellcheck source=/dev/null
    echo "# made $(date -u '+%Y-%m-%d %H:%M UTC') from fmcl $commit" \
        "on $(. /etc/os-release && echo "$PRETTY_NAME")"
    echo "# left out (the machine's own):$skipped"
    for deb in "$dest"/*.deb; do
        printf '%s %s %s\n' "$(dpkg-deb -f "$deb" Package)" "$(dpkg-deb -f "$deb" Version)" \
            "$(basename "$deb")"
    done
} >"$dest/MANIFEST"

n=0
for deb in "$dest"/*.deb; do n=$((n + 1)); done
size="$(du -sk "$dest" | cut -f 1)"
echo "device-bundle: $n packages, $size KiB in $dest (left out as the machine's own:$skipped)"
