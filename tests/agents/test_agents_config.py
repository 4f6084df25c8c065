"""The `agents` and `conversation` sections: what loads, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from src.config import ModelPrice, load_config
from src.conversation.usage import UsageTotals, add_usage
from src.errors import ConfigError
from src.limits.prices import PriceTable
from src.llm.client import Usage

ROOT = Path(__file__).resolve().parents[2]
TWO_AGENTS = "  list:\n    - name: assistant\n    - name: coder\n"


def load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "config.yml"
    path.write_text("llm:\n  api_key: k\n" + text, encoding="utf-8")
    return load_config(path, env={})


def test_the_shipped_config_documents_both_sections() -> None:
    config = load_config(ROOT / "config.yml", env={"OPENAI_API_KEY": "k"})
    assert config.agents.routing == "single"
    assert config.agents.prices["gpt-4o-mini"] == ModelPrice(input=0.15, output=0.60)
    assert config.conversation.compaction.enabled is True
    text = (ROOT / "config.yml").read_text(encoding="utf-8")
    for key in ("max_delegation_depth", "classifier", "keywords", "compaction", "keep_fraction"):
        assert f"{key}:" in text


def test_routing_modes_and_their_settings_load(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        "agents:\n  routing: classify\n  classifier:\n    model: cheap\n"
        "    keywords: {coder: [python]}\n" + TWO_AGENTS + "conversation:\n  compaction:\n"
        "    model: small\n    keep_fraction: 0.3\n",
    )
    assert config.agents.classifier.keywords == {"coder": ["python"]}  # type: ignore[attr-defined]
    assert config.conversation.compaction.model == "small"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("yaml_text", "key", "message"),
    [
        ("agents:\n  routing: vote\n", "agents.routing", "input should be"),
        ("agents:\n  max_delegation_depth: 9\n", "agents.max_delegation_depth", "less than"),
        (
            "agents:\n  classifier:\n    keywords: {ghost: [x]}\n" + TWO_AGENTS,
            "agents",
            "classifier.keywords names an unknown agent 'ghost'",
        ),
        ("agents:\n  list:\n    - name: auto\n", "agents.list.0.name", "'auto' is reserved"),
        (
            "agents:\n  prices: {m: {input: -1, output: 1}}\n",
            "agents.prices.m.input",
            "greater than or equal",
        ),
        ("agents:\n  prices: {m: {input: 1}}\n", "agents.prices.m.output", "field required"),
        (
            "conversation:\n  compaction:\n    keep_fraction: 1.5\n",
            "conversation.compaction.keep_fraction",
            "less than",
        ),
        (
            "conversation:\n  compaction:\n    sumary_tokens: 5\n",
            "conversation.compaction.sumary_tokens",
            "unknown key",
        ),
    ],
)
def test_a_wrong_value_names_the_key(
    tmp_path: Path, yaml_text: str, key: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, yaml_text)
    assert caught.value.key == key
    assert message in caught.value.message


def test_prices_apply_to_dated_model_names() -> None:
    prices = {
        "gpt-4o": ModelPrice(input=2.5, output=10),
        "gpt-4o-mini": ModelPrice(input=0.15, output=0.6),
    }
    table = PriceTable({}, prices)
    assert table.chat_usd("gpt-4o-mini-2024-07-18", Usage(1_000_000, 0)) == 0.15
    assert table.chat_usd("gpt-4o-2024-08-06", Usage(0, 1_000_000)) == 10
    assert table.chat_usd("gpt-4o", Usage(1_000_000, 0)) == 2.5
    assert table.chat_usd("gpt-4omni", Usage(1, 1)) is None


def test_totals_add_up_per_model_and_survive_odd_records() -> None:
    metadata: dict[str, object] = {"usage": "not a mapping"}
    add_usage(metadata, "a", Usage(10, 2))
    add_usage(metadata, "a", Usage(5, 1))
    add_usage(metadata, "", None)  # an endpoint that reports no usage and no model
    totals = UsageTotals.from_metadata(metadata)
    assert totals.by_model["a"].prompt_tokens == 15 and totals.by_model["a"].requests == 2
    assert totals.by_model["unknown"].unreported == 1
    assert totals.total.requests == 3
    cost, unpriced = totals.estimated_cost(PriceTable({}, {"a": ModelPrice(input=1e6, output=1e6)}))
    assert (cost, unpriced) == (18.0, ["unknown"])
