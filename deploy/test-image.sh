#!/usr/bin/env bash
# Builds deploy/Dockerfile and starts the image, as CI (.ci/run) does:
#
#  1. installs docker.io and debootstrap from Debian if missing, and starts dockerd if none runs;
#  2. makes the two base images if they are not there. No registry of container images needs to
#     be reachable: `debian:bookworm-slim` is a `debootstrap --variant=minbase bookworm` root
#     file system, and `rust:1-bookworm` is a stand-in made from it, gcc/make/libc6-dev from
#     Debian and this machine's Rust toolchain (`rustc --print sysroot`, without its docs);
#  3. builds the image exactly as deploy/README.md says, adding only the optional `cargo_ca`
#     secret (this machine's CA bundle, for a TLS-intercepting proxy) and any proxy variables
#     that are set;
#  4. runs it with a read-only root file system as uid 10001, on the host network, with
#     certs-dev/ and a `--dev` configuration mounted read-only at /etc/portcullis;
#  5. vets one subject through it with this machine's `portcullis` binary, then stops it
#     (SIGTERM) and checks it exited 0.
#
# Between runs on one machine the base images, the build's cache mounts (crates and target
# directory) and the image layers stay in Docker, so a second run rebuilds only what changed;
# the previous run's image is pruned.
# It needs root (apt-get, dockerd, debootstrap) and network access to Debian and crates.io.
#
# Environment: DOCKER (client, default /usr/bin/docker from docker.io, which has BuildKit
# built in), PORTCULLIS_BIN (the host binary, default target/debug/portcullis, built if absent),
# CARGO_CA (CA bundle for the build, default /etc/ssl/certs/ca-certificates.crt if present).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

DOCKER=${DOCKER:-/usr/bin/docker}
TAG=portcullis:ci
NAME=portcullis-ci-$$
CARGO_CA=${CARGO_CA:-/etc/ssl/certs/ca-certificates.crt}
start=$SECONDS
step() { echo "== test-image [$((SECONDS - start))s]: $*"; }

work=$(mktemp -d)
dockerd_pid=
cleanup() {
    "$DOCKER" rm -f -v "$NAME" >/dev/null 2>&1 || true
    if [ -n "$dockerd_pid" ]; then
        kill "$dockerd_pid" 2>/dev/null || true
        wait "$dockerd_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# --- 1. tools and the daemon -------------------------------------------------------------------
missing=()
[ -x /usr/sbin/dockerd ] || [ -x /usr/bin/dockerd ] || missing+=(docker.io)
[ -x "$DOCKER" ] || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
    step "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        $(printf '%s\n' "${missing[@]}" | sort -u) >/dev/null
fi
if ! "$DOCKER" info >/dev/null 2>&1; then
    step "starting dockerd (stopped again at the end)"
    dockerd >"$work/dockerd.log" 2>&1 &
    dockerd_pid=$!
    for _ in $(seq 60); do
        "$DOCKER" info >/dev/null 2>&1 && break
        kill -0 "$dockerd_pid" 2>/dev/null || { cat "$work/dockerd.log"; exit 1; }
        sleep 1
    done
    "$DOCKER" info >/dev/null
fi

# --- 2. base images --------------------------------------------------------------------------
if ! "$DOCKER" image inspect debian:bookworm-slim >/dev/null 2>&1; then
    step "making debian:bookworm-slim with debootstrap"
    debootstrap --variant=minbase bookworm "$work/rootfs" http://deb.debian.org/debian >/dev/null
    rm -rf "$work/rootfs/var/cache/apt/archives"/*.deb "$work/rootfs/var/lib/apt/lists"/*
    tar -C "$work/rootfs" -c . | "$DOCKER" import - debian:bookworm-slim >/dev/null
    rm -rf "$work/rootfs"
fi
if ! "$DOCKER" image inspect rust:1-bookworm >/dev/null 2>&1; then
    sysroot=$(rustc --print sysroot)
    step "making the rust:1-bookworm stand-in from $sysroot ($(rustc --version))"
    mkdir -p "$work/rust"
    tar -C "$sysroot" --exclude=./share/doc -c . | tar -C "$work/rust" --one-top-level=toolchain -x
    cat >"$work/rust/Dockerfile" <<'EOF'
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev make ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY toolchain /usr/local/rust
ENV CARGO_HOME=/usr/local/cargo PATH=/usr/local/cargo/bin:/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN cargo --version && rustc --version
EOF
    DOCKER_BUILDKIT=1 "$DOCKER" build --network host -q -t rust:1-bookworm "$work/rust" >/dev/null
    rm -rf "$work/rust"
fi

# --- 3. the image ----------------------------------------------------------------------------
# The label marks this script's images, so the previous run's (now untagged) image can be
# pruned without touching anyone else's.
LABEL=org.portcullis.test-image=1
build=(--network host -f deploy/Dockerfile -t "$TAG" --label "$LABEL")
[ -s "$CARGO_CA" ] && build+=(--secret "id=cargo_ca,src=$CARGO_CA")
for v in HTTP_PROXY HTTPS_PROXY NO_PROXY http_proxy https_proxy no_proxy; do
    [ -n "${!v:-}" ] && build+=(--build-arg "$v")
done
step "docker build ${build[*]} ."
built=$SECONDS
DOCKER_BUILDKIT=1 "$DOCKER" build --progress plain "${build[@]}" . >"$work/build.log" 2>&1 || {
    tail -n 60 "$work/build.log"
    exit 1
}
step "image built in $((SECONDS - built))s ($("$DOCKER" image inspect -f '{{.Size}}' "$TAG") bytes)"
"$DOCKER" image prune -f --filter "label=$LABEL" >/dev/null

# --- 4. start it -----------------------------------------------------------------------------
bin=${PORTCULLIS_BIN:-$root/target/debug/portcullis}
if [ ! -x "$bin" ]; then
    step "building the host binary"
    cargo build --quiet --bin portcullis
    bin=$root/target/debug/portcullis
fi
etc="$work/etc"
mkdir -p "$etc"
cp certs-dev/ca.crt certs-dev/server.crt certs-dev/server.key certs-dev/crl.pem \
    certs-dev/log-signing.pk8 "$etc/"
cat >"$etc/portcullis.toml" <<'EOF'
# The development PKI (certs-dev/), so the gateway runs with --dev.
listen = "127.0.0.1:0"
data_dir = "/var/lib/portcullis"
trust_domain = "portcullis.dev"
accredited_parties = ["alpha", "beta"]
matching_key_ids = ["dev-1"]

[tls]
ca = "/etc/portcullis/ca.crt"
cert = "/etc/portcullis/server.crt"
key = "/etc/portcullis/server.key"
crl = "/etc/portcullis/crl.pem"

[audit]
origin = "portcullis.dev/audit"
signing_key = "/etc/portcullis/log-signing.pk8"
EOF
# As deploy/README.md says: readable by the image's gid 10001, keys not world-readable.
chgrp -R 10001 "$etc"
chmod 0750 "$etc"
chmod 0640 "$etc"/*
step "docker run --read-only (uid 10001, host network, /etc/portcullis read-only)"
"$DOCKER" run -d --name "$NAME" --read-only --network host \
    -v "$etc:/etc/portcullis:ro" "$TAG" serve --dev --config /etc/portcullis/portcullis.toml \
    >/dev/null
addr=
for _ in $(seq 60); do
    addr=$("$DOCKER" logs "$NAME" 2>&1 | sed -n 's/.*ready addr=\([0-9.:]*\).*/\1/p' | head -n 1)
    [ -n "$addr" ] && break
    [ "$("$DOCKER" inspect -f '{{.State.Running}}' "$NAME")" = true ] || break
    sleep 1
done
if [ -z "$addr" ]; then
    "$DOCKER" logs "$NAME" 2>&1 | tail -n 30
    echo "test-image: the container did not become ready" >&2
    exit 1
fi
[ "$("$DOCKER" inspect -f '{{.HostConfig.ReadonlyRootfs}}' "$NAME")" = true ]
uid=$("$DOCKER" exec "$NAME" id -u)
[ "$uid" = 10001 ] || { echo "test-image: runs as uid $uid, not 10001" >&2; exit 1; }
step "ready at $addr, uid $uid, read-only root"

# --- 5. vet once through it, then stop it ------------------------------------------------------
port=${addr##*:}
"$bin" vet --server "https://localhost:$port" --ca certs-dev/ca.crt \
    --identity certs-dev/clients/alpha-officer --key-file certs-dev/matching.key \
    --kind donor-individual --name "Image Check" --dob 1970-01-01 --json >"$work/vet.json"
grep -q '"grade"' "$work/vet.json" || { cat "$work/vet.json"; exit 1; }
step "vetted: $(tr -d '\n' <"$work/vet.json" | head -c 160)"
"$DOCKER" stop -t 30 "$NAME" >/dev/null
code=$("$DOCKER" inspect -f '{{.State.ExitCode}}' "$NAME")
[ "$code" = 0 ] || { "$DOCKER" logs "$NAME" 2>&1 | tail -n 20; echo "test-image: exit $code" >&2; exit 1; }
step "stopped cleanly (exit 0); total $((SECONDS - start))s"
