#!/usr/bin/env bash
# Update the assistant on this VM: pull, build, restart, wait until healthy; roll back if not.
#
#   ./deploy.sh             git pull --ff-only, build, tag the running image :previous, up -d,
#                           wait for health, prune old images
#   ./deploy.sh --dry-run   print the steps, change nothing (runs no docker or git command)
#   ./deploy.sh --no-pull   deploy the checkout as it is
#
# Works from any directory: it runs in the directory that holds it (symlinks followed).
# Exit codes: 0 deployed; 1 not deployed (pull or build failed: nothing changed; or the new
# version never became healthy: the previous image runs again); 2 bad usage or setup;
# 3 the rollback is not healthy either (look at `docker compose logs bot`).
# Settings (environment): DEPLOY_HEALTH_TIMEOUT (seconds, default 180), DEPLOY_POLL_INTERVAL
# (seconds, default 3), DEPLOY_SERVICE (default bot).
set -euo pipefail

IMAGE="telegram-assistant"  # docker-compose.yml: image: telegram-assistant:latest
SERVICE="${DEPLOY_SERVICE:-bot}"
HEALTH_TIMEOUT="${DEPLOY_HEALTH_TIMEOUT:-180}"
POLL_INTERVAL="${DEPLOY_POLL_INTERVAL:-3}"
DRY_RUN=0
PULL=1

usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
}

while (($#)); do
  case "$1" in
    --dry-run | -n) DRY_RUN=1 ;;
    --no-pull) PULL=0 ;;
    -h | --help)
      usage
      exit 0
      ;;
    *)
      echo "deploy: unknown option $1" >&2
      usage >&2
      exit 2
      ;;
  esac
  shift
done

ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
cd "$ROOT"

say() { printf 'deploy: %s\n' "$*"; }
fail() {
  printf 'deploy: %s\n' "$*" >&2
  exit "${2:-1}"
}

# run CMD...: runs it, or only prints it with --dry-run.
run() {
  if ((DRY_RUN)); then
    printf '  would run: %s\n' "$*"
  else
    printf '+ %s\n' "$*"
    "$@"
  fi
}

[ -f docker-compose.yml ] || fail "no docker-compose.yml in $ROOT" 2
if [ ! -f .env ]; then
  ((DRY_RUN)) || fail "no .env in $ROOT: copy .env.example to .env and fill it in" 2
  say "note: no .env yet (copy .env.example to .env before a real deploy)"
fi

# One deploy at a time on this machine.
if ((!DRY_RUN)) && command -v flock >/dev/null 2>&1; then
  exec 9>"${TMPDIR:-/tmp}/telegram-assistant-deploy.lock"
  flock -n 9 || fail "another deploy is running" 2
fi

# state: prints "<container status> <health status>" of the service's container.
state() {
  local id
  id="$(docker compose ps -a -q "$SERVICE" 2>/dev/null || true)"
  if [ -z "$id" ]; then
    echo "missing none"
    return
  fi
  docker inspect --format '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$id" 2>/dev/null ||
    echo "missing none"
}

# wait_healthy: 0 once the container reports healthy, 1 if it turns unhealthy, stops, or the
# timeout passes.
wait_healthy() {
  if ((DRY_RUN)); then
    printf '  would wait up to %ss for %s to be healthy\n' "$HEALTH_TIMEOUT" "$SERVICE"
    return 0
  fi
  local deadline=$((SECONDS + HEALTH_TIMEOUT)) status health
  say "waiting up to ${HEALTH_TIMEOUT}s for $SERVICE to be healthy"
  while :; do
    read -r status health < <(state)
    case "$status/$health" in
      running/healthy) return 0 ;;
      */unhealthy | exited/* | dead/*)
        say "$SERVICE is $status ($health)"
        return 1
        ;;
    esac
    if ((SECONDS >= deadline)); then
      say "$SERVICE is still $status ($health) after ${HEALTH_TIMEOUT}s"
      return 1
    fi
    sleep "$POLL_INTERVAL"
  done
}

if ((DRY_RUN)); then
  say "dry run in $ROOT: nothing will change"
fi

# 1. The new code.
if ((PULL)); then
  run git pull --ff-only || fail "git pull --ff-only failed (local edits or a diverged branch?); nothing changed"
fi

# 2. Remember the image that runs now, then build the new one.
previous=""
if ((!DRY_RUN)); then
  previous="$(docker image inspect --format '{{.Id}}' "$IMAGE:latest" 2>/dev/null || true)"
  if [ -n "$previous" ]; then
    say "current image: $previous"
  else
    say "no current image: first deploy, nothing to roll back to"
  fi
fi
run docker compose build --pull "$SERVICE" || fail "the build failed; the running version is untouched"

# 3. Keep the previous image as :previous (the rollback target, and for a manual rollback).
if ((DRY_RUN)); then
  run docker tag "<current image id>" "$IMAGE:previous"
elif [ -n "$previous" ]; then
  run docker tag "$previous" "$IMAGE:previous"
fi

# 4. Start the new image and wait for it to be healthy.
run docker compose up -d --no-build --remove-orphans "$SERVICE"
if wait_healthy; then
  # 5. Clean up: images of earlier builds (:latest and :previous are kept), old build cache.
  run docker image prune -f --filter "label=org.opencontainers.image.title=$IMAGE"
  run docker builder prune -f --filter until=168h
  if ((DRY_RUN)); then
    say "dry run done: nothing changed"
  else
    say "deployed: $SERVICE is healthy"
  fi
  exit 0
fi

# The new version is not healthy: show why, then go back to the previous image.
docker compose logs --no-color --tail 40 "$SERVICE" >&2 || true
if [ -z "$previous" ]; then
  fail "deploy failed and there is no previous image to roll back to"
fi
say "rolling back to $previous"
run docker tag "$previous" "$IMAGE:latest"
run docker compose up -d --no-build "$SERVICE"
if wait_healthy; then
  fail "deploy failed: rolled back to the previous image, which is healthy"
fi
fail "deploy failed and the rollback is not healthy either: check 'docker compose logs $SERVICE'" 3
