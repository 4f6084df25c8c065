"""The price table: what one model call costs in US dollars.

Prices come from `llm.models` (per million input, cached input and output tokens; per minute
of transcribed audio; per million characters of speech). `agents.prices` (input and output
per million tokens, the older form) still counts for models `llm.models` does not name.
Endpoints often answer with a dated name (gpt-4o-mini-2024-07-18 for gpt-4o-mini): the
longest configured prefix then applies. A model without a price costs None: it is counted in
tokens only.
"""

from __future__ import annotations

from collections.abc import Mapping

from src.config import ModelPrice, ModelPricing
from src.llm.client import Usage


class PriceTable:
    def __init__(
        self, models: Mapping[str, ModelPricing], legacy: Mapping[str, ModelPrice] | None = None
    ) -> None:
        self.models = dict(models)
        self._prices = {
            name: ModelPricing(input_usd_per_mtok=p.input, output_usd_per_mtok=p.output)
            for name, p in (legacy or {}).items()
        }
        self._prices.update(self.models)

    def price(self, model: str) -> ModelPricing | None:
        if model in self._prices:
            return self._prices[model]
        matches = [name for name in self._prices if model.startswith(name + "-")]
        return self._prices[max(matches, key=len)] if matches else None

    def chat_usd(self, model: str, usage: Usage | None) -> float | None:
        """A chat completion's cost; None when the model has no price. Cached prompt tokens
        cost the cached price (the input price when none is set)."""
        price = self.price(model)
        if price is None:
            return None
        if usage is None:
            return 0.0
        cached = min(usage.cached_tokens, usage.prompt_tokens)
        cached_price = price.cached_input_usd_per_mtok
        if cached_price is None:
            cached_price = price.input_usd_per_mtok
        return (
            (usage.prompt_tokens - cached) * price.input_usd_per_mtok
            + cached * cached_price
            + usage.completion_tokens * price.output_usd_per_mtok
        ) / 1e6

    def audio_usd(self, model: str, seconds: float) -> float | None:
        price = self.price(model)
        return None if price is None else max(seconds, 0.0) / 60 * price.usd_per_audio_minute

    def speech_usd(self, model: str, characters: int) -> float | None:
        price = self.price(model)
        return None if price is None else max(characters, 0) * price.usd_per_mchars / 1e6

    def chat_models(self) -> dict[str, ModelPricing]:
        """The models a chat may pick (`llm.models` entries without audio or speech prices)."""
        return {
            name: price
            for name, price in self.models.items()
            if not price.usd_per_audio_minute and not price.usd_per_mchars
        }


def describe(price: ModelPricing) -> str:
    """ "$0.15 in / $0.60 out per million tokens" (what /model shows)."""
    if not price.input_usd_per_mtok and not price.output_usd_per_mtok:
        return "no price set"
    return (
        f"${price.input_usd_per_mtok:g} in / ${price.output_usd_per_mtok:g} out per million tokens"
    )
