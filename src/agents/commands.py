"""The chat commands the Coordinator answers itself: /agent and /usage."""

from __future__ import annotations

from typing import Any

from src.agents.routing import PINNED_KEY
from src.config import AgentsConfig
from src.conversation import settings
from src.conversation.usage import ModelTotals, UsageTotals
from src.errors import UserInputError
from src.store.records import RecordStore

COMMANDS = {
    "agent": "Show the agents, or pick one for this chat",
    "usage": "Tokens used in this chat and what they cost",
}
AUTO = "auto"


def parse(text: str) -> tuple[str, str]:
    """("/agent@MyBot coder ") -> ("agent", "coder")."""
    head, _, rest = text.strip().partition(" ")
    return head.lstrip("/").split("@", 1)[0].lower(), rest.strip()


class ChatCommands:
    def __init__(self, config: AgentsConfig, records: RecordStore) -> None:
        self.config = config
        self.records = records

    async def handle(self, conversation_id: str, text: str) -> str:
        name, args = parse(text)
        if name == "agent":
            return await self.agent(conversation_id, args)
        if name == "usage":
            if args:
                raise UserInputError("/usage takes no arguments.")
            return await self.usage(conversation_id)
        raise UserInputError("I don't know that command.")

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

    async def usage(self, conversation_id: str) -> str:
        totals = UsageTotals.from_metadata(await settings.load(self.records, conversation_id))
        total = totals.total
        if not total.requests:
            return "No model usage in this chat yet."
        lines = [f"This chat used {_n(total.requests)} model request(s):"]
        for model, entry in sorted(totals.by_model.items()):
            lines.append(f"• {model}: {_tokens(entry)}")
        if len(totals.by_model) > 1:
            lines.append(f"Total: {_tokens(total)}")
        cost, unpriced = totals.estimated_cost(self.config.prices)
        if len(unpriced) < len(totals.by_model):
            lines.append(f"Estimated cost: {self.config.currency}{cost:,.4f}")
        if unpriced:
            lines.append(f"No price set for: {', '.join(unpriced)} (agents.prices in config.yml)")
        if total.unreported:
            lines.append(f"{_n(total.unreported)} request(s) reported no usage.")
        return "\n".join(lines)


def _tokens(entry: ModelTotals) -> str:
    return (
        f"{_n(entry.prompt_tokens)} prompt + {_n(entry.completion_tokens)} completion "
        f"= {_n(entry.prompt_tokens + entry.completion_tokens)} tokens"
    )


def _n(value: int) -> str:
    return f"{value:,}"
