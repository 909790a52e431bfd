#!/usr/bin/env bash
# Build the PASS image from a clean copy of this branch and run it for real:
#   1. Redis, `passbot serve` and `passbot worker` in containers (host networking): uid 10001,
#      GET /healthz, the image's HEALTHCHECK, a run submitted through POST /api/runs and planned by
#      the containerised worker up to awaiting_approval, and the sandbox level the worker reached;
#   2. README's compose snippet as written (podman-compose, bridge network, service names; only the
#      published port is moved to a free one): bot + 2 workers + Redis, one run planned through it.
#
# Made for a Debian bookworm machine without a Docker engine whose network reaches Debian's package
# mirror and PyPI but no image registry: the engine is Debian's podman (rootful, vfs storage, runc),
# python:3.11-slim is replaced by a stand-in base built here with debootstrap (python3 +
# python3-venv) and passed as BASE_IMAGE, and redis:7 by Debian's redis-server on the same base.
# Needs root; takes a few minutes. Not part of pytest or .ci/run.
#
#   sudo scripts/check_image.sh        # PASS_CHECK_KEEP=1 keeps the images (and $WORK) afterwards
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${PASS_CHECK_DIR:-/var/tmp/pass-image-check}
KEEP=${PASS_CHECK_KEEP:-0}
SUITE=bookworm
BASE=localhost/pass-check-base:$SUITE
IMAGE=localhost/passbot:latest  # `image: passbot` in README's compose snippet
REDIS_IMAGE=localhost/redis:7   # `image: redis:7` there
PROJECT=passcheck               # compose project: containers passcheck_*, network passcheck_default
T0=$(date +%s)

# Every podman call goes through pm, with a config and a storage of this check's own, so nothing
# here touches other podman state on the machine and cleanup is one directory (and one network).
pm() { CONTAINERS_CONF="$WORK/containers.conf" CONTAINERS_STORAGE_CONF="$WORK/storage.conf" podman "$@"; }
compose() {
  (cd "$WORK/compose" && CONTAINERS_CONF="$WORK/containers.conf" CONTAINERS_STORAGE_CONF="$WORK/storage.conf" \
    podman-compose -p "$PROJECT" "$@")
}

step() { printf '\n== [%4ss] %s\n' "$(($(date +%s) - T0))" "$*"; }
fail() {
  echo
  for name in $(pm ps -a --format '{{.Names}}' 2>/dev/null); do
    echo "--- last log lines of $name"
    pm logs --tail 15 "$name" 2>&1 | cut -c1-300 || true
  done
  echo "FAIL: $*"
  exit 1
}

cleanup() {
  set +e
  for name in $(pm ps -a --format '{{.Names}}' 2>/dev/null); do pm rm -f -t 5 "$name" >/dev/null 2>&1; done
  # Networks live in podman's machine-wide config, not in this check's storage.
  pm network rm -f "${PROJECT}_default" >/dev/null 2>&1
  if [[ $KEEP != 1 ]]; then
    pm volume prune -f >/dev/null 2>&1
    pm rmi -a -f >/dev/null 2>&1
    rm -rf "$WORK"
  fi
}

[[ $(id -u) == 0 ]] || { echo "FAIL: run as root (rootful podman, debootstrap)"; exit 1; }
if [[ -n $(git -C "$ROOT" status --porcelain) ]]; then
  echo "note: uncommitted changes are not checked: the image is built from HEAD (git archive)"
fi

step "install podman, runc, podman-compose, debootstrap (apt-get)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends podman runc netavark aardvark-dns podman-compose \
  debootstrap ca-certificates >/dev/null
podman --version

# The Debian mirror apt already uses here: the only place debootstrap can reach.
MIRROR=$(grep -rhoE '^(URIs:|deb) *https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
  | grep -oE 'https?://[^ ]+' | head -1 || true)
[[ -n $MIRROR ]] || { echo "FAIL: no Debian mirror found in /etc/apt/sources.list{,.d}"; exit 1; }

rm -rf "$WORK"; mkdir -p "$WORK/storage" "$WORK/run" "$WORK/compose"
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
chroot "$WORK/rootfs" update-ca-certificates >/dev/null 2>&1
printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"$WORK/rootfs/etc/pip.conf"
rm -rf "$WORK/rootfs/var/cache/apt/archives/"*.deb "$WORK/rootfs/var/lib/apt/lists/"*
tar -C "$WORK/rootfs" -c . | pm import --change 'CMD ["python3"]' - "$BASE" >/dev/null
rm -rf "$WORK/rootfs"
pm images --format '{{.Repository}}:{{.Tag}}  {{.Size}}' "$BASE"

step "build the image from a clean copy of HEAD (git archive), BASE_IMAGE=$BASE"
mkdir "$WORK/ctx"
git -C "$ROOT" archive HEAD | tar -x -C "$WORK/ctx"
build_start=$(date +%s)
# --format docker: OCI images carry no HEALTHCHECK. --isolation chroot: no nested container runtime.
pm build --format docker --isolation chroot --network host --build-arg BASE_IMAGE="$BASE" \
  -t "$IMAGE" "$WORK/ctx" >"$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log"; fail "image build"; }
echo "built in $(($(date +%s) - build_start)) s; size: $(pm images --format '{{.Size}}' "$IMAGE")"
echo "healthcheck: $(pm image inspect --format '{{json .HealthCheck.Test}}' "$IMAGE" | cut -c1-120)…"

step "a stand-in redis:7 from the same base (Debian's redis-server 7.0)"
# Like the official image: `redis-server ARGS` without a config file lets other containers in.
cat >"$WORK/redis-entry" <<'EOF'
#!/bin/sh
if [ "$1" = redis-server ]; then shift; exec redis-server "$@" --protected-mode no; fi
exec "$@"
EOF
cat >"$WORK/Redis.Dockerfile" <<EOF
FROM $BASE
RUN apt-get update && apt-get install -y --no-install-recommends redis-server \\
 && apt-get clean && rm -rf /var/lib/apt/lists/* && mkdir /data
COPY redis-entry /usr/local/bin/redis-entry
RUN chmod 755 /usr/local/bin/redis-entry
WORKDIR /data
ENTRYPOINT ["/usr/local/bin/redis-entry"]
CMD ["redis-server"]
EOF
pm build --format docker --isolation chroot --network host -t "$REDIS_IMAGE" -f "$WORK/Redis.Dockerfile" "$WORK" \
  >"$WORK/redis-build.log" 2>&1 || { tail -20 "$WORK/redis-build.log"; fail "redis image build"; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

http() {  # METHOD PATH [BODY]: "STATUS BODY" from 127.0.0.1:$HTTP_PORT with $TOKEN; host python, no curl
  python3 - "$@" <<EOF
import sys, urllib.error, urllib.request
method, path = sys.argv[1], sys.argv[2]
data = sys.argv[3].encode() if len(sys.argv) > 3 else None
req = urllib.request.Request("http://127.0.0.1:$HTTP_PORT" + path, data=data, method=method,
                             headers={"Authorization": "Bearer ${TOKEN:-}", "Content-Type": "application/json"})
try:
    with urllib.request.urlopen(req, timeout=5) as resp:
        print(resp.status, resp.read().decode())
except urllib.error.HTTPError as exc:
    print(exc.code, exc.read().decode())
except OSError as exc:
    print(0, exc)
EOF
}

wait_healthz() {
  local health=""
  for _ in $(seq 90); do
    health=$(http GET /healthz)
    [[ $health == 200* ]] && break
    sleep 0.5
  done
  [[ $health == 200* ]] || fail "GET /healthz: $health"
  echo "GET /healthz -> $health"
}

plan_one_run() {  # REQUESTER: POST /api/runs, then GET until the worker has planned it; sets RUN_ID
  local body created got status=""
  body=$(python3 -c 'import json, sys; print(json.dumps({"prd": open(sys.argv[1]).read(), "channel": "C0IMAGECHECK", "requester": sys.argv[2]}))' \
    "$ROOT/examples/todo-prd.md" "$1")
  created=$(http POST /api/runs "$body")
  echo "POST /api/runs -> $created"
  [[ $created == 202* ]] || fail "POST /api/runs was not accepted"
  RUN_ID=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1].split(" ", 1)[1])["run_id"])' "$created")
  for _ in $(seq 120); do
    got=$(http GET "/api/runs/$RUN_ID")
    status=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1].split(" ", 1)[1]).get("status", "?"))' "$got")
    [[ $status == awaiting_approval || $status == failed || $status == blocked ]] && break
    sleep 1
  done
  python3 - "$got" <<'EOF'
import json, sys
run = json.loads(sys.argv[1].split(" ", 1)[1])
plan = run.get("plan") or {}
print(f"GET /api/runs/{run['run_id']} -> status={run['status']} isolation={run.get('isolation')} "
      f"items={len(plan.get('items', []))}")
EOF
  [[ $status == awaiting_approval ]] || fail "run $RUN_ID ended $status, not awaiting_approval"
}

# --- 1. serve + worker + Redis, host networking ---------------------------------------------------
REDIS_PORT=$(free_port)
HTTP_PORT=$(free_port)
RUN=(pm run --network host -e REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0" -e PASS_HTTP_PORT="$HTTP_PORT")

step "start Redis (port $REDIS_PORT, appendonly)"
pm run -d --name pass-check-redis --network host "$REDIS_IMAGE" \
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --appendonly yes >/dev/null
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
# The worker serves no HTTP, so no health check. unmask=/proc/* lets bubblewrap mount a fresh /proc
# for the sandbox; PASS_CHECK_WORKER_OPTS= shows the level reached under podman's defaults.
read -r -a WORKER_OPTS <<<"${PASS_CHECK_WORKER_OPTS---security-opt unmask=/proc/*}"
"${RUN[@]}" -d --name pass-check-worker --no-healthcheck "${WORKER_OPTS[@]}" "$IMAGE" worker --concurrency 2 \
  >/dev/null 2>>"$WORK/podman-run.log"

step "checks"
for name in pass-check-serve pass-check-worker; do
  uid=$(pm exec "$name" id -u) || fail "$name is not running"
  [[ $uid == 10001 ]] || fail "$name runs as uid $uid, not 10001"
  echo "$name runs as uid $uid ($(pm exec "$name" id -un))"
done
wait_healthz
pm healthcheck run pass-check-serve || fail "the image's HEALTHCHECK failed"
health=$(pm inspect --format '{{.State.Health.Status}}' pass-check-serve)
echo "podman healthcheck run pass-check-serve -> $health"
[[ $health == healthy ]] || fail "health status is $health"
plan_one_run check_image.sh
echo "worker's log about this run:"
pm logs pass-check-worker 2>&1 | grep -F "$RUN_ID" | cut -c1-220 | head -5 || true
echo "passbot doctor in the worker container (${WORKER_OPTS[*]:-podman defaults}):"
pm exec pass-check-worker passbot doctor 2>&1 | grep sandbox || true
echo "passbot doctor in a container with podman's defaults (masked /proc):"
"${RUN[@]}" --rm --no-healthcheck "$IMAGE" doctor 2>&1 | grep sandbox || true
for name in pass-check-serve pass-check-worker pass-check-redis; do pm rm -f -t 10 "$name" >/dev/null 2>&1; done

# --- 2. README's compose snippet ------------------------------------------------------------------
step "README's compose snippet with podman-compose: redis + bot + 2 workers on a bridge network"
awk '/^```yaml/ {on=1; next} on && /^```/ {exit} on' "$WORK/ctx/README.md" >"$WORK/compose/compose.yml"
HTTP_PORT=$(free_port)
grep -q '"3000:3000"' "$WORK/compose/compose.yml" || fail "README's compose snippet no longer publishes 3000:3000"
sed -i "s/\"3000:3000\"/\"$HTTP_PORT:3000\"/" "$WORK/compose/compose.yml"
# env_file: .env: nothing for Slack, GitHub or OpenAI, so a dry run with the heuristic planner.
printf 'PASS_LOG_LEVEL=info\nREDIS_PASSWORD=%s\nPASS_APPROVAL_KEY=%s\n' "$(openssl rand -hex 16)" "$(openssl rand -hex 32)" \
  >"$WORK/compose/.env"
compose up -d >"$WORK/compose-up.log" 2>&1 || { tail -20 "$WORK/compose-up.log"; fail "podman-compose up"; }
pm ps --format '{{.Names}}  {{.Image}}  {{.Command}}' | sed 's/^/  /'
[[ $(pm ps --filter "label=com.docker.compose.service=worker" --format '{{.Names}}' | wc -l) == 2 ]] \
  || fail "not 2 worker replicas"
TOKEN=""
wait_healthz
TOKEN=$(pm exec "${PROJECT}_bot_1" passbot token create --name compose-check 2>/dev/null)
plan_one_run compose
for name in $(pm ps --filter "label=com.docker.compose.service=worker" --format '{{.Names}}'); do
  echo "$name: $(pm logs "$name" 2>&1 | grep -cF "$RUN_ID") log line(s) on run $RUN_ID;" \
    "health check: $(pm inspect --format '{{json .Config.Healthcheck.Test}}' "$name" | cut -c1-40)"
done
compose down -v >/dev/null 2>&1

echo
echo "PASS: image $IMAGE ($(pm images --format '{{.Size}}' "$IMAGE") on the stand-in base $BASE) ran serve and" \
  "worker as uid 10001, served /healthz, turned healthy, planned runs to awaiting_approval alone and" \
  "from README's compose snippet, in $(($(date +%s) - T0)) s"
