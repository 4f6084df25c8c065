"""Static checks of docker-compose.replicas.yml and deploy/Caddyfile (no Docker engine here,
as in test_static.py): the Compose Specification schema, Caddy as its own service with TLS
on 80/443 and its certificates on a volume, the bot replicas publishing nothing, and only the
webhook path reaching them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from src.config import load_config
from tests.harness import ROOT
from tests.ops.test_static import SCHEMA, run, tool

COMPOSE = ROOT / "docker-compose.replicas.yml"
CADDYFILE = ROOT / "deploy" / "Caddyfile"


def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_the_replicas_compose_file_matches_the_specification() -> None:
    result = run(tool("check-jsonschema"), "--schemafile", str(SCHEMA), str(COMPOSE))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_rejects_a_broken_replicas_file(tmp_path: Path) -> None:
    broken = compose()
    broken["services"]["bot"]["deploy"] = {"replica_count": 3}  # not a deploy key
    path = tmp_path / "docker-compose.replicas.yml"
    path.write_text(yaml.safe_dump(broken))
    assert run(tool("check-jsonschema"), "--schemafile", str(SCHEMA), str(path)).returncode != 0


def test_caddy_terminates_tls_and_the_replicas_publish_nothing() -> None:
    data = compose()
    assert "version" not in data
    caddy, bot = data["services"]["caddy"], data["services"]["bot"]
    assert str(caddy["image"]).startswith("caddy:2")
    assert {"80:80", "443:443"} <= set(caddy["ports"])
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in caddy["volumes"]
    assert "caddy_data:/data" in caddy["volumes"] and "caddy_data" in data["volumes"]
    assert caddy["cap_drop"] == ["ALL"] and caddy["cap_add"] == ["NET_BIND_SERVICE"]
    assert "ports" not in bot, "replicas are reached through Caddy only"
    assert bot["deploy"]["replicas"] == "${REPLICAS:-3}"
    assert bot["environment"]["HEALTH_HOST"] == "0.0.0.0"
    assert bot["read_only"] is True and bot["cap_drop"] == ["ALL"]
    assert "/healthz" in " ".join(bot["healthcheck"]["test"])
    assert bot["image"] == compose_single()["services"]["bot"]["image"]
    # Long enough for the consumer's long poll and the turns' grace (consumer.py).
    assert int(str(bot["stop_grace_period"]).rstrip("s")) >= 20 + 7 + 10


def compose_single() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_caddy_sends_only_the_webhook_path_to_the_replicas() -> None:
    text = CADDYFILE.read_text(encoding="utf-8")
    assert text.startswith("#") and "{$BOT_DOMAIN} {" in text
    default_path = load_config(ROOT / "config.yml", env={"OPENAI_API_KEY": "k"}).telegram.webhook
    assert f"handle {{$WEBHOOK_PATH:{default_path.path}}} {{" in text
    assert re.search(r"dynamic a bot 8080", text)
    assert "lb_try_duration" in text  # a dead replica: the next one gets the update
    assert re.search(r"handle \{\s*respond 404\s*\}", text)  # /healthz, /metrics: not public
    assert "/healthz" not in text.split("#")[-1]


def test_the_replicas_file_variables_are_in_env_example() -> None:
    env = (ROOT / ".env.example").read_text()
    used = set(re.findall(r"\$\{([A-Z_]+)", COMPOSE.read_text()))
    used |= set(re.findall(r"\{\$([A-Z_]+)", CADDYFILE.read_text()))
    assert {"BOT_DOMAIN", "WEBHOOK_PATH", "REPLICAS"} <= used
    for name in used:
        assert re.search(rf"^(# )?{name}=", env, re.MULTILINE), name
