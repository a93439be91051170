#!/bin/bash
# Tries tools/device-check.sh here, on Debian with PoCL, as if on a bare machine:
# in a private mount namespace (needs root; nothing outside it changes) every
# package of the bundle but zlib1g is hidden (files under /dev/null, their
# folders under empty tmpfs, programs taken out of /usr/bin by an overlay), so
# the build can use only the bundle, and PoCL is the only OpenCL driver.
#
#   tools/device-check-bare.sh registered|unregistered [VAR=VALUE...]
#
# registered: /etc/OpenCL/vendors holds PoCL's ICD file alone. unregistered: it
# is empty and DEVCHECK_ICD_NAMES names PoCL's library, so device-check.sh finds
# it and registers it as it would NVIDIA's. DEVCHECK_ALLOW_CPU=1 is set; the
# VAR=VALUE pairs (say OUT=..., DEVCHECK_TESTS=...) go to device-check.sh.
set -eu

mode="${1:-}"
case "$mode" in
    registered | unregistered) shift ;;
    *)
        echo "usage: $0 registered|unregistered [VAR=VALUE...]" >&2
        exit 2
        ;;
esac
top="$(cd "$(dirname "$0")/.." && pwd)"
manifest="$top/.bundle/MANIFEST"
[ -f "$manifest" ] || { echo "$0: no $manifest: run tools/device-bundle.sh first" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "$0: needs root (unshare -m)" >&2; exit 1; }
icd="$(cat /etc/OpenCL/vendors/pocl.icd 2>/dev/null)" ||
    { echo "$0: PoCL is not installed (apt-get install pocl-opencl-icd)" >&2; exit 1; }

# The bundle's packages installed here; zlib1g's library stays (every system has one).
packages=""
while read -r p _; do
    case "$p" in '#'* | zlib1g) continue ;; esac
    if dpkg-query -W "$p" >/dev/null 2>&1; then packages="$packages $p"; fi
done <"$manifest"
# The overlay's scratch folders, on a tmpfs mounted inside the namespace.
ovl="$(mktemp -d)"
trap 'rmdir "$ovl"' EXIT

# shellcheck disable=SC2016 # expanded by the inner bash
unshare -m --propagation private bash -eu -c '
mode="$1" top="$2" icd="$3" packages="$4" ovl="$5"
shift 5
mount -t tmpfs none "$ovl"
mkdir "$ovl/upper" "$ovl/work"
for p in $packages; do
    dpkg -L "$p" | while read -r f; do
        if [ -d "$f" ] && [ ! -L "$f" ]; then
            case "$f" in
                /usr/include/CL | /usr/include/stb | */mesonbuild) mount -t tmpfs none "$f" ;;
            esac
        elif [ -f "$f" ] && [ ! -L "$f" ]; then
            case "$f" in
                /usr/include/CL/* | /usr/include/stb/* | */mesonbuild/*) ;;
                /usr/share/doc/* | /usr/share/man/* | /usr/bin/*) ;;
                *) mount --bind /dev/null "$f" ;;
            esac
        fi
        case "$f" in /usr/bin/*) mknod "$ovl/upper/${f#/usr/bin/}" c 0 0 ;; esac
    done
done
mount -t overlay overlay -o "lowerdir=/usr/bin,upperdir=$ovl/upper,workdir=$ovl/work" /usr/bin
mount -t tmpfs none /etc/OpenCL/vendors
if [ "$mode" = registered ]; then
    echo "$icd" >/etc/OpenCL/vendors/pocl.icd
else
    set -- DEVCHECK_ICD_NAMES="libnvidia-opencl.so.1 libpocl.so.2" "$@"
fi
echo "device-check-bare: hidden:$packages; OpenCL vendors: $(ls /etc/OpenCL/vendors | tr "\n" " ")"
cd "$top"
exec env DEVCHECK_ALLOW_CPU=1 "$@" tools/device-check.sh
' bash "$mode" "$top" "$icd" "$packages" "$ovl" "$@"
