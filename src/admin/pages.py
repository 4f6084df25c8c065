"""The page handlers: each reads through the stores' interfaces and renders one template.

Nothing here logs what a conversation says: the logs get ids and counts only.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from aiohttp import web

from src.admin import chart, history, views
from src.admin.auth import SESSION
from src.admin.render import Renderer, number, usd
from src.admin.usage import read_usage
from src.agents.access_commands import AccessCommands
from src.runtime import Runtime

logger = logging.getLogger(__name__)

_USER_ID = re.compile(r"-?[0-9]{1,16}")
MAX_QUERY = 200


class Pages:
    def __init__(self, runtime: Runtime, renderer: Renderer, base: str) -> None:
        self.runtime = runtime
        self.renderer = renderer
        self.base = base
        self.records = runtime.storage.records

    def routes(self) -> list[web.RouteDef]:
        config = self.runtime.config
        found = [
            web.get("/conversations", self.conversations, name="conversations"),
            web.get("/conversation", self.conversation, name="conversation"),
            web.get("/usage", self.usage, name="usage"),
            web.get("/tools", self.tools, name="tools"),
            web.get("/access", self.access, name="access"),
            web.post("/access/allow", self.allow, name="allow"),
            web.post("/access/deny", self.deny, name="deny"),
        ]
        if config.scheduler.enabled:
            found.append(web.get("/reminders", self.reminders, name="reminders"))
        if config.memory.enabled:
            found.append(web.get("/memory", self.memory, name="memory"))
        return found

    @staticmethod
    def navigation(scheduler: bool, memory: bool) -> dict[str, str]:
        pages = {"conversations": "Conversations", "usage": "Usage", "tools": "Tool servers"}
        pages["access"] = "Access"
        if scheduler:
            pages["reminders"] = "Scheduled messages"
        if memory:
            pages["memory"] = "Memory"
        return pages

    async def _page(self, request: web.Request, name: str, **context: Any) -> web.Response:
        session = request[SESSION]
        flash, session.flash = session.flash, []
        return await self.renderer.page(
            f"{name}.html", current=name, csrf=session.csrf, flash=flash, **context
        )

    # -- conversations -------------------------------------------------------------------

    async def conversations(self, request: web.Request) -> web.Response:
        page = _int(request.query.get("page"), 0, 0, 1_000_000)
        query = request.query.get("q", "").strip()[:MAX_QUERY]
        store = self.runtime.storage.conversations
        found = await history.listing(store, page, query)
        return await self._page(request, "conversations", listing=found)

    async def conversation(self, request: web.Request) -> web.Response:
        conversation_id = request.query.get("id", "")[:MAX_QUERY]
        shown = _int(request.query.get("shown"), history.HISTORY_STEP, 1, history.MAX_HISTORY)
        store = self.runtime.storage.conversations
        items = await history.history(store, conversation_id, shown) if conversation_id else []
        if not items:
            return await self._page(request, "missing", what="conversation", status=404)
        return await self._page(
            request,
            "conversation",
            conversation_id=conversation_id,
            items=items,
            shown=shown,
            more=len(items) >= shown and shown < history.MAX_HISTORY,
            step=history.HISTORY_STEP,
        )

    # -- usage -------------------------------------------------------------------------

    async def usage(self, request: web.Request) -> web.Response:
        users = views.known_users(self.runtime.access)
        data = await read_usage(self.records, self.runtime.coordinator.limits, users)
        charts = [
            chart.columns("Tokens per day", data.per_day("tokens"), number),
            chart.columns("Cost per day (US dollars)", data.per_day("usd"), usd),
            chart.rows(
                "Tokens per user, last 30 days",
                [(f"user {user.user_id}", float(user.tokens)) for user in data.users],
                number,
            ),
        ]
        return await self._page(request, "usage", usage=data, charts=charts)

    # -- tool servers --------------------------------------------------------------------

    async def tools(self, request: web.Request) -> web.Response:
        view = views.tools_view(self.runtime.tools, self.runtime.mcp)
        return await self._page(request, "tools", view=view)

    # -- access, scheduled messages, memory ----------------------------------------------

    async def access(self, request: web.Request) -> web.Response:
        return await self._page(request, "access", view=views.access_view(self.runtime.access))

    async def allow(self, request: web.Request) -> web.Response:
        return await self._change_access(request, "allow")

    async def deny(self, request: web.Request) -> web.Response:
        return await self._change_access(request, "deny")

    async def _change_access(self, request: web.Request, action: str) -> web.Response:
        session = request[SESSION]
        raw = str((await request.post()).get("user_id", "")).strip()
        if not _USER_ID.fullmatch(raw):
            session.flash.append("A user id is a number, like 123456789.")
        else:
            commands = AccessCommands(self.runtime.access)
            target = int(raw)
            if action == "allow":
                note = await commands.allow(target, by=None)
            else:
                note = await commands.deny(target)
            logger.info("admin page: %s user %s", action, target)
            session.flash.append(note.replace(f"/deny {target}", "Deny"))
        raise web.HTTPSeeOther(f"{self.base}/access")

    async def reminders(self, request: web.Request) -> web.Response:
        users = views.known_users(self.runtime.access)
        per_user = self.runtime.config.scheduler.max_per_user
        found = await views.scheduled(self.records, users, per_user)
        return await self._page(request, "reminders", users=found)

    async def memory(self, request: web.Request) -> web.Response:
        users = views.known_users(self.runtime.access)
        raw = request.query.get("user", "")
        user = int(raw) if _USER_ID.fullmatch(raw) else None
        facts = await views.facts_of(self.records, user) if user is not None else []
        return await self._page(
            request, "memory", users=users, user=user, facts=facts, most=views.MAX_FACTS_SHOWN
        )


def _int(raw: str | None, default: int, low: int, high: int) -> int:
    try:
        value = int(raw) if raw is not None else default
    except ValueError:
        return default
    return min(max(value, low), high)
