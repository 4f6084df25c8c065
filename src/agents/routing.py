"""Which agent answers a message: the chat's pinned agent, else the routing mode decides.

- single, delegate: the default agent (in delegate mode it may ask the others, see
  delegation.py)
- classify: a keyword shortcut from config, else a cheap model picks from the agents'
  descriptions; any doubt or error means the default agent
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Any

from src.config import AgentsConfig
from src.errors import LLMError
from src.llm.client import ChatModel, Usage

logger = logging.getLogger(__name__)

PINNED_KEY = "pinned_agent"  # in the conversation's metadata record
_MAX_CLASSIFIED_CHARS = 4000
_PUNCTUATION = " \t\r\n.,;:!?'\"`*_()[]{}<>"

CLASSIFIER_PROMPT = (
    "You route a user's message to the assistant agent best suited to answer it.\n"
    "The agents:\n{agents}\n\n"
    "Reply with one agent name from this list and nothing else. If unsure, reply {default}."
)


@dataclass(frozen=True)
class Route:
    agent: str
    via: str  # pinned | default | keyword | classifier | fallback
    model: str | None = None  # the classifier's model, when one was asked
    usage: Usage | None = None

    def to_metadata(self) -> dict[str, Any]:
        data: dict[str, Any] = {"agent": self.agent, "via": self.via}
        if self.model is not None:
            data["model"] = self.model
        if self.usage is not None:
            data["usage"] = {
                "prompt_tokens": self.usage.prompt_tokens,
                "completion_tokens": self.usage.completion_tokens,
            }
        return data


class Router:
    def __init__(self, config: AgentsConfig, llm: ChatModel) -> None:
        self.config = config
        self.llm = llm
        self.names = [agent.name for agent in config.list]
        self._keywords = {
            name: _keyword_pattern(words)
            for name, words in config.classifier.keywords.items()
            if any(w.strip() for w in words)
        }

    async def route(self, text: str, pinned: str | None = None) -> Route:
        if pinned in self.names:
            return Route(str(pinned), "pinned")
        if self.config.routing != "classify" or len(self.names) == 1:
            return Route(self.config.default, "default")
        matched = [name for name, pattern in self._keywords.items() if pattern.search(text)]
        if len(matched) == 1:
            return Route(matched[0], "keyword")
        return await self._classify(text)

    async def _classify(self, text: str) -> Route:
        settings = self.config.classifier
        agents = "\n".join(
            f"- {a.name}: {a.description or 'no description'}" for a in self.config.list
        )
        messages = [
            {
                "role": "system",
                "content": CLASSIFIER_PROMPT.format(agents=agents, default=self.config.default),
            },
            {"role": "user", "content": text[:_MAX_CLASSIFIED_CHARS] or "(empty message)"},
        ]
        try:
            async with asyncio.timeout(settings.timeout_s):
                response = await self.llm.chat(messages, None, model=settings.model)
        except (LLMError, TimeoutError) as exc:
            logger.warning("classifier failed (%s); the default agent answers", exc or "timeout")
            return Route(self.config.default, "fallback")
        answer = response.text.strip(_PUNCTUATION).lower()
        if answer in self.names:
            return Route(answer, "classifier", response.model, response.usage)
        logger.info("classifier answered %r, not an agent; the default agent answers", answer[:40])
        return Route(self.config.default, "fallback", response.model, response.usage)


def _keyword_pattern(words: list[str]) -> re.Pattern[str]:
    """Any of the words (or phrases), as whole words, in any case."""
    choices = "|".join(re.escape(w.strip()) for w in words if w.strip())
    return re.compile(rf"(?<!\w)(?:{choices})(?!\w)", re.IGNORECASE)
