"""The chat commands the Coordinator answers itself: /agent, /usage and /model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from src.agents.routing import PINNED_KEY
from src.config import Config
from src.conversation import settings
from src.conversation.usage import ModelTotals, UsageTotals
from src.errors import UserInputError
from src.limits.policy import Limits
from src.limits.prices import describe
from src.limits.report import spend_lines
from src.store.records import RecordStore

COMMANDS = {
    "agent": "Show the agents, or pick one for this chat",
    "model": "Show the models, or pick one for this chat",
    "usage": "Tokens used and what they cost, against your limits",
}
AUTO = "auto"
MODEL_KEY = "model"  # the chat's pinned model, in its settings record
DEFAULT_MODEL = ("default", "auto")


def parse(text: str) -> tuple[str, str]:
    """("/agent@MyBot coder ") -> ("agent", "coder")."""
    head, _, rest = text.strip().partition(" ")
    return head.lstrip("/").split("@", 1)[0].lower(), rest.strip()


class ChatCommands:
    def __init__(self, config: Config, records: RecordStore, limits: Limits) -> None:
        self.config = config.agents
        self.default_model = config.llm.model
        self.records = records
        self.limits = limits
        self.admins = frozenset(config.telegram.admin_user_ids)

    async def handle(self, conversation_id: str, text: str, user_id: int | None = None) -> str:
        name, args = parse(text)
        if name == "agent":
            return await self.agent(conversation_id, args)
        if name == "usage":
            return await self.usage(conversation_id, user_id, args)
        if name == "model":
            return await self.model(conversation_id, args)
        raise UserInputError("I don't know that command.")

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is None or user_id in self.admins  # None: the console's operator

    async def agent(self, conversation_id: str, args: str) -> str:
        if not args:
            metadata = await settings.load(self.records, conversation_id)
            return self._list(metadata.get(PINNED_KEY))
        wanted = args.lower()
        names = [agent.name for agent in self.config.list]
        if wanted != AUTO and wanted not in names:
            raise UserInputError(
                f"There's no agent called {args[:40]!r}. The agents: {', '.join(names)}. "
                "Send /agent auto to let me choose."
            )

        def change(metadata: dict[str, Any]) -> None:
            if wanted == AUTO:
                metadata.pop(PINNED_KEY, None)
            else:
                metadata[PINNED_KEY] = wanted

        await settings.change(self.records, conversation_id, change)
        if wanted == AUTO:
            return f"Back to automatic: {self._automatic()}."
        return f"From now on the {wanted} agent answers in this chat. /agent auto undoes this."

    def _automatic(self) -> str:
        if self.config.routing == "classify":
            return "I pick the agent for each message"
        if self.config.routing == "delegate":
            return f"the {self.config.default} agent answers and asks the others when they help"
        return f"the {self.config.default} agent answers"

    def _list(self, pinned: object) -> str:
        lines = ["Agents:"]
        for agent in self.config.list:
            marks = []
            if agent.name == self.config.default:
                marks.append("default")
            if agent.name == pinned:
                marks.append("pinned for this chat")
            suffix = f" ({', '.join(marks)})" if marks else ""
            description = f": {agent.description}" if agent.description else ""
            lines.append(f"• {agent.name}{description}{suffix}")
        if isinstance(pinned, str) and pinned not in [a.name for a in self.config.list]:
            lines.append(f"The pinned agent {pinned!r} no longer exists; {self._automatic()}.")
        elif not pinned:
            lines.append(f"Now: {self._automatic()}.")
        lines.append("Send /agent <name> to pin one for this chat, /agent auto to undo.")
        return "\n".join(lines)

    # -- /model --------------------------------------------------------------------------

    def pinned_model(self, metadata: Mapping[str, Any]) -> str | None:
        """The chat's pinned model while llm.models still offers it."""
        pinned = metadata.get(MODEL_KEY)
        return pinned if pinned in self.limits.prices.chat_models() else None

    async def model(self, conversation_id: str, args: str) -> str:
        offered = self.limits.prices.chat_models()
        if not offered:
            return (
                f"This assistant uses one model: {self.default_model}. "
                "(Its owner can offer more under llm.models in config.yml.)"
            )
        if not args:
            pinned = self.pinned_model(await settings.load(self.records, conversation_id))
            lines = ["Models for this chat:"]
            for name, price in offered.items():
                mark = " (in use here)" if name == pinned else ""
                lines.append(f"• {name}: {describe(price)}{mark}")
            if pinned is None:
                lines.append(f"Now: the default ({self.default_model}, or the agent's own).")
            lines.append("Send /model <name> to use one in this chat, /model default to undo.")
            return "\n".join(lines)
        wanted = next((n for n in offered if n.lower() == args.lower()), None)
        if wanted is None and args.lower() not in DEFAULT_MODEL:
            raise UserInputError(
                f"There's no model called {args[:60]!r} here. The models: "
                f"{', '.join(offered)}. Send /model default to go back to the default."
            )

        def change(metadata: dict[str, Any]) -> None:
            if wanted is None:
                metadata.pop(MODEL_KEY, None)
            else:
                metadata[MODEL_KEY] = wanted

        await settings.change(self.records, conversation_id, change)
        if wanted is None:
            return f"Back to the default model ({self.default_model}, or the agent's own)."
        return (
            f"From now on this chat uses {wanted} ({describe(offered[wanted])}). "
            "/model default undoes this."
        )

    # -- /usage --------------------------------------------------------------------------

    async def usage(self, conversation_id: str, user_id: int | None, args: str) -> str:
        if args:
            if not self.is_admin(user_id):
                raise UserInputError("Only an admin can see another user's usage.")
            try:
                other = int(args)
            except ValueError:
                raise UserInputError("Usage: /usage, or /usage <user id> (admins).") from None
            spend = await self.limits.ledger.spend(other)
            return "\n".join(spend_lines(self.limits, other, spend, f"user {other}"))
        lines = await self._chat_usage(conversation_id)
        if user_id is not None:
            spend = await self.limits.ledger.spend(user_id)
            if spend.month.requests or self.limits.applying(user_id):
                lines += spend_lines(self.limits, user_id, spend, "you")
        return "\n".join(lines)

    async def _chat_usage(self, conversation_id: str) -> list[str]:
        totals = UsageTotals.from_metadata(await settings.load(self.records, conversation_id))
        total = totals.total
        if not total.requests:
            return ["No model usage in this chat yet."]
        lines = [f"This chat used {_n(total.requests)} model request(s):"]
        for model, entry in sorted(totals.by_model.items()):
            lines.append(f"• {model}: {_tokens(entry)}")
        if len(totals.by_model) > 1:
            lines.append(f"Total: {_tokens(total)}")
        cost, unpriced = totals.estimated_cost(self.limits.prices)
        if len(unpriced) < len(totals.by_model):
            lines.append(f"Estimated cost: {self.config.currency}{cost:,.4f}")
        if unpriced:
            lines.append(f"No price set for: {', '.join(unpriced)} (llm.models in config.yml)")
        if total.unreported:
            lines.append(f"{_n(total.unreported)} request(s) reported no usage.")
        return lines


def _tokens(entry: ModelTotals) -> str:
    return (
        f"{_n(entry.prompt_tokens)} prompt + {_n(entry.completion_tokens)} completion "
        f"= {_n(entry.prompt_tokens + entry.completion_tokens)} tokens"
    )


def _n(value: int) -> str:
    return f"{value:,}"
