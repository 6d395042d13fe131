#!/usr/bin/env bash
# Build (or reuse) the ai-fix sandbox image and tag it ai-fix-sandbox:latest.
#
# Idempotent: the image tag is a hash of this script, the Dockerfile and the
# chosen base, so a second run only re-tags (well under a second).
# Without a registry the base is a Debian bookworm root fs made with
# debootstrap and `docker import`ed; the Dockerfile is then built with
# --network none. See README.md for the details and the env overrides:
#   AI_FIX_SANDBOX_BASE            registry base image instead of debootstrap
#   AI_FIX_SANDBOX_EXTRA_PACKAGES  extra Debian packages (e.g. "build-essential python3-dev")
#   DEBIAN_MIRROR                  Debian mirror (default: from apt sources, else deb.debian.org)
# Progress goes to stderr; the final image reference is printed on stdout.
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO_NAME=ai-fix-sandbox
BASE_REPO=ai-fix-base
SUITE=bookworm
# Debian packages of the locally made base. Part of the base image's tag.
BASE_PACKAGES="python3 python3-pip python3-venv python3-pytest git ca-certificates make"
EXTRA_PACKAGES=${AI_FIX_SANDBOX_EXTRA_PACKAGES:-}

log() { printf 'build.sh: %s\n' "$*" >&2; }
die() { printf 'build.sh: ERROR: %s\n' "$*" >&2; exit 1; }

short_hash() { sha256sum | cut -c1-16; }

command -v docker >/dev/null 2>&1 \
    || die "the 'docker' CLI is not installed or not on PATH; install Docker (https://docs.docker.com/engine/install/) and retry"

if [[ -n "${AI_FIX_SANDBOX_BASE:-}" ]]; then
    BASE_REF=$AI_FIX_SANDBOX_BASE
    LOCAL_BASE=0
else
    PKG_HASH=$(printf '%s\n' "$SUITE" $BASE_PACKAGES $EXTRA_PACKAGES | short_hash)
    BASE_REF="$BASE_REPO:$SUITE-$PKG_HASH"
    LOCAL_BASE=1
fi
IMAGE_HASH=$( { cat "$SCRIPT_DIR/Dockerfile" "$SCRIPT_DIR/build.sh"; printf '%s\n' "$BASE_REF" "$EXTRA_PACKAGES"; } | short_hash)
IMAGE="$REPO_NAME:$IMAGE_HASH"
LATEST="$REPO_NAME:latest"

# Fast path: one CLI call when both tags already point at the same image.
if ids=$(docker image inspect --format '{{.Id}}' "$IMAGE" "$LATEST" 2>/dev/null); then
    if [[ $(sed -n 1p <<<"$ids") == $(sed -n 2p <<<"$ids") ]]; then
        log "$IMAGE is up to date (= $LATEST)"
        echo "$LATEST"
        exit 0
    fi
fi
if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    docker tag "$IMAGE" "$LATEST"
    log "$IMAGE already built; tagged $LATEST"
    echo "$LATEST"
    exit 0
fi

# Slow path. Make sure the daemon answers before spending minutes.
if ! server=$(docker version --format '{{.Server.Version}}' 2>&1); then
    die "cannot reach the Docker engine ($(tail -n 1 <<<"$server")). Is the daemon running, and may this user use it (docker group / DOCKER_HOST)?"
fi
log "Docker engine $server; building $IMAGE"

# Serialise concurrent builders (e.g. parallel test workers), then re-check.
exec 9>"${TMPDIR:-/tmp}/ai-fix-sandbox-build.lock"
flock 9
if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    docker tag "$IMAGE" "$LATEST"
    log "$IMAGE was built by a concurrent run; tagged $LATEST"
    echo "$LATEST"
    exit 0
fi

# Print the first http(s) mirror that the host's apt sources use for $SUITE.
detect_mirror() {
    local files=()
    [[ -r /etc/apt/sources.list ]] && files+=(/etc/apt/sources.list)
    for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [[ -r $f ]] && files+=("$f")
    done
    [[ ${#files[@]} -gt 0 ]] || return 0
    awk -v suite="$SUITE" '
        function flush() {
            if (done) return
            if (enabled && uris != "" && (" " suites " ") ~ (" " suite " ")) {
                n = split(uris, u, " ")
                for (i = 1; i <= n; i++) if (u[i] ~ /^https?:\/\//) { print u[i]; done = 1; exit }
            }
            uris = ""; suites = ""; enabled = 1
        }
        BEGIN { enabled = 1 }
        FNR == 1 { flush() }
        FILENAME ~ /\.sources$/ {
            if ($0 ~ /^[ \t]*$/) { flush(); next }
            if (tolower($1) == "uris:")    { uris = $0; sub(/^[^:]*:[ \t]*/, "", uris) }
            if (tolower($1) == "suites:")  { suites = $0; sub(/^[^:]*:[ \t]*/, "", suites) }
            if (tolower($1) == "enabled:" && tolower($2) == "no") enabled = 0
            next
        }
        /^deb[ \t]/ {
            line = $0; sub(/^deb[ \t]+(\[[^]]*\][ \t]+)?/, "", line)
            split(line, f, /[ \t]+/)
            if (f[2] == suite && f[1] ~ /^https?:\/\//) { print f[1]; done = 1; exit }
        }
        END { flush() }
    ' "${files[@]}" | head -n 1
}

build_local_base() {
    if docker image inspect "$BASE_REF" >/dev/null 2>&1; then
        log "base $BASE_REF exists"
        return
    fi
    [[ $(id -u) -eq 0 ]] \
        || die "making the local base image needs root (debootstrap). Run as root, or set AI_FIX_SANDBOX_BASE=python:3.11-slim-bookworm to build from a registry image"
    if ! command -v debootstrap >/dev/null 2>&1 && [[ ! -x /usr/sbin/debootstrap ]]; then
        log "installing debootstrap (apt-get)"
        command -v apt-get >/dev/null 2>&1 \
            || die "debootstrap is missing and this host has no apt-get; install debootstrap, or set AI_FIX_SANDBOX_BASE"
        apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y debootstrap >&2
    fi
    local debootstrap
    debootstrap=$(command -v debootstrap || echo /usr/sbin/debootstrap)

    local mirror=${DEBIAN_MIRROR:-}
    [[ -n $mirror ]] || mirror=$(detect_mirror || true)
    [[ -n $mirror ]] || mirror=http://deb.debian.org/debian

    ROOTFS=$(mktemp -d "${TMPDIR:-/tmp}/ai-fix-rootfs.XXXXXX")
    trap cleanup_rootfs EXIT
    local include
    include=$(echo $BASE_PACKAGES $EXTRA_PACKAGES | tr ' ' ',')
    log "debootstrap $SUITE from $mirror into $ROOTFS (packages: $include); takes a minute or two"
    local t0=$SECONDS
    "$debootstrap" --variant=minbase --include="$include" "$SUITE" "$ROOTFS" "$mirror" >&2 \
        || die "debootstrap failed (mirror $mirror). Set DEBIAN_MIRROR to a reachable Debian mirror, or AI_FIX_SANDBOX_BASE to a registry image"
    log "debootstrap done in $((SECONDS - t0)) s; trimming"

    # Caches, docs and host details (debootstrap copies resolv.conf/hostname) out.
    rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/cache/apt/*.bin \
           "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/log/* "$ROOTFS"/tmp/* "$ROOTFS"/var/tmp/* \
           "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* "$ROOTFS"/usr/share/locale/*
    find "$ROOTFS"/usr/share/doc -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
    find "$ROOTFS"/usr/share/doc -mindepth 1 -type d -empty -delete 2>/dev/null || true
    : >"$ROOTFS/etc/resolv.conf"
    echo sandbox >"$ROOTFS/etc/hostname"
    mkdir -p "$ROOTFS/etc/dpkg/dpkg.cfg.d"
    printf '%s\n' 'path-exclude=/usr/share/man/*' 'path-exclude=/usr/share/info/*' \
        'path-exclude=/usr/share/locale/*' 'path-exclude=/usr/share/doc/*' \
        'path-include=/usr/share/doc/*/copyright' >"$ROOTFS/etc/dpkg/dpkg.cfg.d/ai-fix-nodoc"

    log "importing root fs as $BASE_REF"
    tar --numeric-owner -C "$ROOTFS" \
        --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -c . \
        | docker import \
            --change 'LABEL ai-fix=1' \
            --change 'LABEL ai-fix.role=base' \
            --change "LABEL ai-fix.base-packages=\"$BASE_PACKAGES $EXTRA_PACKAGES\"" \
            --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
            --change 'ENV LANG=C.UTF-8' \
            --change 'CMD ["/bin/bash"]' \
            - "$BASE_REF" >&2
    cleanup_rootfs
    trap - EXIT
}

ROOTFS=""
cleanup_rootfs() {
    [[ -n $ROOTFS && -d $ROOTFS ]] || return 0
    # debootstrap mounts proc/sys inside the target; never recurse into them.
    local m
    for m in $(awk -v r="$ROOTFS" 'index($2, r) == 1 { print $2 }' /proc/mounts | sort -r); do
        umount -l "$m" 2>/dev/null || true
    done
    rm -rf --one-file-system "$ROOTFS"
    ROOTFS=""
}

t_start=$SECONDS
network=()
if [[ $LOCAL_BASE -eq 1 ]]; then
    build_local_base
    network=(--network none)
else
    log "using registry base $BASE_REF (docker build may pull it and install packages)"
fi

log "docker build ${network[*]} --build-arg BASE=$BASE_REF -t $IMAGE"
docker build "${network[@]}" \
    --build-arg "BASE=$BASE_REF" \
    --build-arg "EXTRA_PACKAGES=$EXTRA_PACKAGES" \
    --force-rm \
    --label ai-fix=1 \
    --label "ai-fix.build-hash=$IMAGE_HASH" \
    -t "$IMAGE" - <"$SCRIPT_DIR/Dockerfile" >&2 \
    || die "docker build failed (see above)"
docker tag "$IMAGE" "$LATEST"
log "built $IMAGE in $((SECONDS - t_start)) s; tagged $LATEST"

# Drop superseded sandbox tags (a tag still used by a container is kept).
# Base images are kept: rebuilding one means another debootstrap.
for old in $(docker images --format '{{.Repository}}:{{.Tag}}' "$REPO_NAME"); do
    [[ $old == "$IMAGE" || $old == "$LATEST" ]] && continue
    docker rmi "$old" >/dev/null 2>&1 && log "removed superseded $old"
done
echo "$LATEST"
