"""Usage accounting: token totals per conversation, kept in its metadata record.

Every model request of a turn (the agents', the classifier's, the summariser's) adds to the
totals, so `/usage` reads one small record instead of the history.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from src.conversation.window import Window
from src.llm.client import Usage

if TYPE_CHECKING:
    from src.limits.prices import PriceTable

USAGE_KEY = "usage"
UNKNOWN_MODEL = "unknown"


@dataclass(frozen=True)
class Cost:
    """One model request: its model, the usage it reported, and the window it was sent (to
    learn how far the local token estimate was off). Counted with what the request produced."""

    model: str
    usage: Usage | None
    window: Window | None = None


@dataclass
class ModelTotals:
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    unreported: int = 0  # requests whose response carried no usage
    cached_tokens: int = 0  # of prompt_tokens, from the provider's prompt cache

    def to_dict(self) -> dict[str, int]:
        return {
            "requests": self.requests,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "unreported": self.unreported,
            "cached_tokens": self.cached_tokens,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelTotals:
        return cls(**{key: int(data.get(key) or 0) for key in cls.__dataclass_fields__})


@dataclass
class UsageTotals:
    by_model: dict[str, ModelTotals] = field(default_factory=dict)

    @property
    def total(self) -> ModelTotals:
        result = ModelTotals()
        for entry in self.by_model.values():
            result.requests += entry.requests
            result.prompt_tokens += entry.prompt_tokens
            result.completion_tokens += entry.completion_tokens
            result.unreported += entry.unreported
            result.cached_tokens += entry.cached_tokens
        return result

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> UsageTotals:
        raw = metadata.get(USAGE_KEY) or {}
        models = raw.get("by_model") if isinstance(raw, Mapping) else None
        if not isinstance(models, Mapping):
            return cls()
        return cls({str(k): ModelTotals.from_dict(v) for k, v in models.items()})

    def estimated_cost(self, prices: PriceTable) -> tuple[float, list[str]]:
        """The cost of the priced models, and the models that have no price."""
        cost, unpriced = 0.0, []
        for model, entry in sorted(self.by_model.items()):
            usage = Usage(entry.prompt_tokens, entry.completion_tokens, entry.cached_tokens)
            usd = prices.chat_usd(model, usage)
            if usd is None:
                unpriced.append(model)
            else:
                cost += usd
        return cost, unpriced


def add_usage(metadata: dict[str, Any], model: str, usage: Usage | None) -> None:
    """Count one model request in the metadata record (changed in place)."""
    totals = UsageTotals.from_metadata(metadata)
    entry = totals.by_model.setdefault(model or UNKNOWN_MODEL, ModelTotals())
    entry.requests += 1
    if usage is None:
        entry.unreported += 1
    else:
        entry.prompt_tokens += usage.prompt_tokens
        entry.completion_tokens += usage.completion_tokens
        entry.cached_tokens += usage.cached_tokens
    metadata[USAGE_KEY] = {"by_model": {k: v.to_dict() for k, v in totals.by_model.items()}}
