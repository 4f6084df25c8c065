# syntax=docker/dockerfile:1
# The assistant's image: python:3.12-slim, ffmpeg for voice notes, a non-root user (uid 10001),
# everything it writes under the one volume /data. docker-compose.yml builds and runs it.
#   docker build -t telegram-assistant .                              Python-only stdio MCP servers
#   docker build --build-arg WITH_NODE=true -t telegram-assistant .   + Node.js for `npx` servers
# The image-size estimate and what dominates it are in README.md, "Deploy on a VM".

ARG PYTHON_IMAGE=python:3.12-slim-bookworm

# -- build: the pinned requirements, as wheels only, into a virtualenv ------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
COPY requirements.txt ./
# Wheels only: no compiler in either stage, and a package without a wheel fails the build here.
# The base image's pip installs into a virtualenv that has no pip of its own (14 MB less).
RUN python -m venv --without-pip /opt/venv \
    && python -m pip --python /opt/venv/bin/python install --no-cache-dir --only-binary=:all: \
         -r requirements.txt

# -- final: runtime packages, the virtualenv, the code --------------------------------------
FROM ${PYTHON_IMAGE} AS final
ARG WITH_NODE=false
LABEL org.opencontainers.image.title="telegram-assistant" \
      org.opencontainers.image.description="A personal AI assistant on Telegram"

SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# Debian's packages are not version-pinned on purpose: a rebuild picks up security updates and
# old versions vanish from the mirrors. Node.js (Debian's nodejs + npm) only with WITH_NODE=true.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg \
    && if [ "$WITH_NODE" = "true" ]; then \
         apt-get install -y --no-install-recommends nodejs npm; \
       fi \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 assistant \
    && useradd --system --uid 10001 --gid assistant --no-create-home --home-dir /app \
         --shell /usr/sbin/nologin assistant \
    && mkdir -p /data/conversations \
    && chown -R assistant:assistant /data

COPY --from=build /opt/venv /opt/venv

WORKDIR /app
COPY telegram_bot.py config.yml mcp.yml ./
COPY src/ ./src/
# Byte-code compiled now (the root file system is read-only at run time); ./data is the volume,
# so config.yml's `./data/conversations` lands on it.
RUN python -m compileall -q /app/src /app/telegram_bot.py \
    && ln -s /data /app/data

ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PTB_TIMEDELTA=true \
    HEALTH_HOST=0.0.0.0 \
    CONFIG_PATH=/app/config.yml \
    MCP_CONFIG_PATH=/app/mcp.yml \
    HOME=/tmp \
    NPM_CONFIG_CACHE=/data/.npm

USER 10001:10001
VOLUME ["/data"]
EXPOSE 8080

# 200 from /healthz while polling works and the store answers; urlopen raises on 503.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]

STOPSIGNAL SIGTERM
CMD ["python", "telegram_bot.py"]
