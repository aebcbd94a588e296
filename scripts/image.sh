#!/usr/bin/env bash
# Makes an OCI image of detourd without a registry: a minimal Debian 12 root file system
# (mmdebstrap --variant=minbase) with the Debian package installed by apt, so that its Depends are
# resolved and its postinst makes the detour user, written as one layer by umoci and archived in
# the oci-archive format (skopeo inspect oci-archive:FILE, podman load -i FILE).
#   scripts/image.sh                   build/ -> scripts/package.sh -> build/package/detour_VERSION_oci.tar
#   scripts/image.sh --deb PATH        this .deb instead of making one
#   scripts/image.sh --dir DIR         the build directory scripts/package.sh uses
#   scripts/image.sh --out FILE        where the archive goes
# The mirror is the host's /etc/apt/sources.list.d/debian.sources when there is one, else
# deb.debian.org. Man pages (but detourd's), docs (but detour's), locales, info pages and apt's
# lists are left out. Must run as root (mmdebstrap --mode=root). Prints the archive's path last.
# Entrypoint: detourd run -c /etc/detour/detour.yaml, as user detour (numeric uid:gid). The
# container needs NET_ADMIN (the nftables rules, SO_MARK) and the network namespace whose traffic
# it captures (--network host, or a pod's).
set -euo pipefail
cd "$(dirname "$0")/.."

deb=""
dir=build
out=""
while (($#)); do
  case "$1" in
    --deb) deb="$2"; shift ;;
    --dir) dir="$2"; shift ;;
    --out) out="$2"; shift ;;
    *) echo "image.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
if [[ -z $deb ]]; then
  deb=$(./scripts/package.sh --dir "$dir" | tail -n 1)
fi
deb=$(realpath "$deb")
version=$(dpkg-deb --field "$deb" Version)
out=$(realpath -m "${out:-$dir/package/detour_${version}_oci.tar}")
mkdir -p "$(dirname "$out")"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

sources=/etc/apt/sources.list.d/debian.sources
[[ -f $sources ]] || sources="deb http://deb.debian.org/debian bookworm main"
# </dev/null: without a tty on stdin mmdebstrap would read more sources from it.
mmdebstrap --variant=minbase --mode=root --quiet \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-include=/usr/share/man/man8/detourd.8.gz' \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/detour/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
  --customize-hook='mkdir -p "$1/usr/share/man/man8" "$1/usr/share/doc/detour"' \
  --customize-hook="cp '$deb' \"\$1/tmp/detour.deb\"" \
  --customize-hook='chroot "$1" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends /tmp/detour.deb >/dev/null' \
  --customize-hook='rm -rf "$1/tmp/detour.deb" "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/log/*.log' \
  bookworm "$work/rootfs.tar" "$sources" </dev/null

# The image user by number: a runtime then needs no /etc/passwd lookup to drop to it.
passwd=$(tar -xOf "$work/rootfs.tar" ./etc/passwd)
user=$(awk -F: '$1 == "detour" { print $3 ":" $4 }' <<<"$passwd")
[[ -n $user ]] || { echo "image.sh: the postinst made no user detour" >&2; exit 1; }

image="$work/oci:detour:$version"
umoci init --layout "$work/oci"
umoci new --image "$image"
umoci raw add-layer --image "$image" --history.created_by "mmdebstrap bookworm + $(basename "$deb")" "$work/rootfs.tar"
umoci config --image "$image" \
  --config.entrypoint /usr/sbin/detourd --config.entrypoint run \
  --config.entrypoint -c --config.entrypoint /etc/detour/detour.yaml \
  --config.user "$user" --config.exposedports 15000/tcp \
  --config.label "org.opencontainers.image.version=$version" \
  --config.label "org.opencontainers.image.title=detour" \
  --config.label "org.opencontainers.image.description=$(dpkg-deb --field "$deb" Description | head -n 1)"
umoci gc --layout "$work/oci"
tar -C "$work/oci" -cf "$out" .
echo "$out"
