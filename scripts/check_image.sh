#!/usr/bin/env bash
# Build the PASS image from a clean copy of this branch and run it for real: Redis, `passbot serve`
# and `passbot worker` in containers, a run submitted through `POST /api/runs` and planned by the
# containerised worker up to awaiting_approval.
#
# Made for a Debian bookworm machine without a Docker engine whose network reaches Debian's
# package mirror and PyPI but no image registry: the engine is Debian's podman (rootful, vfs
# storage, runc, host networking), and python:3.11-slim is replaced by a stand-in base built here
# with debootstrap (python3 + python3-venv), passed as BASE_IMAGE. Needs root; takes a few minutes.
# Not part of pytest or .ci/run.
#
#   sudo scripts/check_image.sh            # PASS_CHECK_KEEP=1 keeps the images afterwards
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${PASS_CHECK_DIR:-/var/tmp/pass-image-check}
KEEP=${PASS_CHECK_KEEP:-0}
SUITE=bookworm
BASE=localhost/pass-check-base:$SUITE
IMAGE=localhost/passbot:check
REDIS_IMAGE=localhost/pass-check-redis:$SUITE
NAMES=(pass-check-redis pass-check-serve pass-check-worker)
T0=$(date +%s)

step() { printf '\n== [%4ss] %s\n' "$(($(date +%s) - T0))" "$*"; }
fail() {
  echo "FAIL: $*"
  for name in "${NAMES[@]}"; do
    if pm container exists "$name" 2>/dev/null; then
      echo "--- last log lines of $name"
      pm logs --tail 20 "$name" 2>&1 || true
    fi
  done
  exit 1
}

# Every podman call goes through pm, with a config and a storage of this check's own, so nothing
# here touches other podman state on the machine and cleanup is one directory.
pm() { CONTAINERS_CONF="$WORK/containers.conf" CONTAINERS_STORAGE_CONF="$WORK/storage.conf" podman "$@"; }

cleanup() {
  set +e
  for name in "${NAMES[@]}"; do pm rm -f -t 5 "$name" >/dev/null 2>&1; done
  if [[ $KEEP != 1 ]]; then
    pm rmi -f "$IMAGE" "$REDIS_IMAGE" "$BASE" >/dev/null 2>&1
    rm -rf "$WORK"
  fi
}

[[ $(id -u) == 0 ]] || { echo "FAIL: run as root (rootful podman, debootstrap)"; exit 1; }
if [[ -n $(git -C "$ROOT" status --porcelain) ]]; then
  echo "note: uncommitted changes are not checked: the image is built from HEAD (git archive)"
fi

step "install podman, runc, debootstrap (apt-get)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends podman runc debootstrap ca-certificates >/dev/null
podman --version

# The Debian mirror apt already uses here: the only place debootstrap can reach.
MIRROR=$(grep -rhoE '^(URIs:|deb) *https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
  | grep -oE 'https?://[^ ]+' | head -1 || true)
[[ -n $MIRROR ]] || fail "no Debian mirror found in /etc/apt/sources.list{,.d}"

rm -rf "$WORK"; mkdir -p "$WORK/storage" "$WORK/run"
# runc, not crun: crun refuses this host's hybrid cgroup v1/v2 layout. Explicit ulimits: podman's
# defaults exceed the hard limits here, which root cannot raise without CAP_SYS_RESOURCE.
cat >"$WORK/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
cat >"$WORK/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "$WORK/storage"
runroot = "$WORK/run"
EOF
trap cleanup EXIT

step "stand-in base: debootstrap --variant=minbase $SUITE + python3, python3-venv ($MIRROR)"
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates "$SUITE" "$WORK/rootfs" "$MIRROR" \
  >"$WORK/debootstrap.log" 2>&1 || { tail -20 "$WORK/debootstrap.log"; fail "debootstrap"; }
# Trust what this machine trusts (an egress proxy's CA lives in /usr/local/share/ca-certificates),
# and make pip use the system bundle, or pip cannot reach PyPI from inside the build. The stand-in
# only: the Dockerfile itself assumes nothing about the network.
cp /usr/local/share/ca-certificates/*.crt "$WORK/rootfs/usr/local/share/ca-certificates/" 2>/dev/null || true
chroot "$WORK/rootfs" update-ca-certificates >/dev/null
printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"$WORK/rootfs/etc/pip.conf"
rm -rf "$WORK/rootfs/var/cache/apt/archives/"*.deb "$WORK/rootfs/var/lib/apt/lists/"*
tar -C "$WORK/rootfs" -c . | pm import --change 'CMD ["python3"]' - "$BASE" >/dev/null
rm -rf "$WORK/rootfs"
pm images --format '{{.Repository}}:{{.Tag}}  {{.Size}}' "$BASE"

step "build the image from a clean copy of HEAD (git archive), BASE_IMAGE=$BASE"
mkdir "$WORK/ctx"
git -C "$ROOT" archive HEAD | tar -x -C "$WORK/ctx"
build_start=$(date +%s)
# --format docker: OCI images have no HEALTHCHECK. --network host: no bridge on this machine.
pm build --format docker --isolation chroot --network host --build-arg BASE_IMAGE="$BASE" \
  -t "$IMAGE" "$WORK/ctx" >"$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log"; fail "image build"; }
echo "built in $(($(date +%s) - build_start)) s; size: $(pm images --format '{{.Size}}' "$IMAGE")"
echo "healthcheck: $(pm image inspect --format '{{json .HealthCheck.Test}}' "$IMAGE")"

step "a Redis image from the same base (Debian's redis-server; redis:7 cannot be pulled here)"
cat >"$WORK/Redis.Dockerfile" <<EOF
FROM $BASE
RUN apt-get update && apt-get install -y --no-install-recommends redis-server \\
 && apt-get clean && rm -rf /var/lib/apt/lists/* && mkdir /data
WORKDIR /data
ENTRYPOINT ["redis-server"]
EOF
pm build --format docker --isolation chroot --network host -t "$REDIS_IMAGE" -f "$WORK/Redis.Dockerfile" "$WORK" \
  >"$WORK/redis-build.log" 2>&1 || { tail -20 "$WORK/redis-build.log"; fail "redis image build"; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
REDIS_PORT=$(free_port)
HTTP_PORT=$(free_port)
REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0
# Host networking: each container sees the others on loopback (no bridge without iptables here).
RUN=(pm run --network host -e REDIS_URL="$REDIS_URL" -e PASS_HTTP_PORT="$HTTP_PORT")

step "start Redis (port $REDIS_PORT, appendonly)"
pm run -d --name pass-check-redis --network host "$REDIS_IMAGE" \
  --port "$REDIS_PORT" --bind 127.0.0.1 --appendonly yes >/dev/null
for _ in $(seq 50); do
  pm exec pass-check-redis redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && break
  sleep 0.2
done
pm exec pass-check-redis redis-cli -p "$REDIS_PORT" ping | grep -q PONG || fail "redis does not answer"

step "an API token (passbot token create, in the image)"
TOKEN=$("${RUN[@]}" --rm --no-healthcheck "$IMAGE" token create --name image-check --scopes runs:write,runs:read)
[[ -n $TOKEN ]] || fail "no token printed"

step "start passbot serve (port $HTTP_PORT; the image's default command) and passbot worker --concurrency 2"
# Without systemd podman cannot schedule health checks (it says so on stderr, kept in a file);
# they are run by hand below with `podman healthcheck run`.
"${RUN[@]}" -d --name pass-check-serve "$IMAGE" >/dev/null 2>>"$WORK/podman-run.log"
# The worker serves no HTTP, so no health check (README's compose disables it too). unmask=/proc/*
# lets bubblewrap mount a fresh /proc for the sandbox; PASS_CHECK_WORKER_OPTS overrides it, e.g.
# PASS_CHECK_WORKER_OPTS= to see the level reached under podman's defaults.
read -r -a WORKER_OPTS <<<"${PASS_CHECK_WORKER_OPTS---security-opt unmask=/proc/*}"
"${RUN[@]}" -d --name pass-check-worker --no-healthcheck "${WORKER_OPTS[@]}" "$IMAGE" worker --concurrency 2 >/dev/null 2>>"$WORK/podman-run.log"

step "checks"
for name in pass-check-serve pass-check-worker; do
  uid=$(pm exec "$name" id -u) || fail "$name is not running"
  [[ $uid == 10001 ]] || fail "$name runs as uid $uid, not 10001"
  echo "$name runs as uid $uid ($(pm exec "$name" id -un))"
done

http() {  # METHOD PATH [BODY]: prints "STATUS BODY"; host python, no curl needed
  python3 - "$@" <<EOF
import sys, urllib.error, urllib.request
method, path = sys.argv[1], sys.argv[2]
data = sys.argv[3].encode() if len(sys.argv) > 3 else None
req = urllib.request.Request("http://127.0.0.1:$HTTP_PORT" + path, data=data, method=method,
                             headers={"Authorization": "Bearer $TOKEN", "Content-Type": "application/json"})
try:
    with urllib.request.urlopen(req, timeout=5) as resp:
        print(resp.status, resp.read().decode())
except urllib.error.HTTPError as exc:
    print(exc.code, exc.read().decode())
except OSError as exc:
    print(0, exc)
EOF
}

health=""
for _ in $(seq 60); do
  health=$(http GET /healthz)
  [[ $health == 200* ]] && break
  sleep 0.5
done
[[ $health == 200* ]] || fail "GET /healthz: $health"
echo "GET /healthz -> $health"

pm healthcheck run pass-check-serve || fail "the image's HEALTHCHECK failed"
status=$(pm inspect --format '{{.State.Health.Status}}' pass-check-serve)
echo "podman healthcheck run pass-check-serve -> $status"
[[ $status == healthy ]] || fail "health status is $status"

body=$(python3 -c 'import json, sys; print(json.dumps({"prd": open(sys.argv[1]).read(), "channel": "C0IMAGECHECK", "requester": "check_image.sh"}))' \
  "$ROOT/examples/todo-prd.md")
created=$(http POST /api/runs "$body")
echo "POST /api/runs -> $created"
[[ $created == 202* ]] || fail "POST /api/runs was not accepted"
run_id=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1].split(" ", 1)[1])["run_id"])' "$created")

run_status=""
for _ in $(seq 120); do
  got=$(http GET "/api/runs/$run_id")
  run_status=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1].split(" ", 1)[1]).get("status", "?"))' "$got")
  [[ $run_status == awaiting_approval || $run_status == failed || $run_status == blocked ]] && break
  sleep 1
done
python3 - "$got" <<'EOF'
import json, sys
run = json.loads(sys.argv[1].split(" ", 1)[1])
plan = run.get("plan") or {}
print(f"GET /api/runs/{run['run_id']} -> status={run['status']} isolation={run.get('isolation')} "
      f"items={len(plan.get('items', []))}")
EOF
[[ $run_status == awaiting_approval ]] || fail "run $run_id ended $run_status, not awaiting_approval"

echo "worker's log about this run:"
pm logs pass-check-worker 2>&1 | grep -F "$run_id" | cut -c1-220 | head -5 || true
echo "passbot doctor in the worker container (${WORKER_OPTS[*]:-podman defaults}):"
pm exec pass-check-worker passbot doctor 2>&1 | grep sandbox || true
echo "passbot doctor in a container with podman's defaults (masked /proc):"
"${RUN[@]}" --rm --no-healthcheck "$IMAGE" doctor 2>&1 | grep sandbox || true

echo
echo "PASS: image $IMAGE (base $BASE, $(pm images --format '{{.Size}}' "$IMAGE")) served /healthz, turned healthy," \
  "and its worker planned run $run_id to awaiting_approval in $(($(date +%s) - T0)) s"
