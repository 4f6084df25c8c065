"""Pages from the Jinja2 templates in templates/ (package data), autoescape on for every
template: whatever a conversation, a user name or a tool holds is shown as text, never run.

Rendering runs in a worker thread (it reads the template files the first time and is CPU
work), so the bot's event loop never waits on it. Jinja2 itself is imported there on the
first page view: an admin page nobody opens costs neither start-up time nor memory.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from aiohttp import web

if TYPE_CHECKING:
    import jinja2

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


class Renderer:
    def __init__(self, base: str, zone: ZoneInfo, pages: dict[str, str]) -> None:
        """`base`: the page's path (admin.path); `pages`: the navigation, path -> title."""
        self.zone = zone
        self.globals: dict[str, Any] = {
            "base": base,
            "pages": pages,
            "current": "",
            "csrf": "",
            "flash": (),
        }
        self._env: jinja2.Environment | None = None
        self._lock = threading.Lock()

    async def page(self, name: str, status: int = 200, **context: Any) -> web.Response:
        html = await asyncio.to_thread(self.render, name, context)
        return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")

    def render(self, name: str, context: dict[str, Any]) -> str:
        return self.environment().get_template(name).render(context)

    def environment(self) -> jinja2.Environment:
        with self._lock:
            if self._env is None:
                import jinja2

                env = jinja2.Environment(
                    loader=jinja2.FileSystemLoader(TEMPLATES),
                    autoescape=True,  # every template, whatever its name
                    undefined=jinja2.StrictUndefined,
                    trim_blocks=True,
                    lstrip_blocks=True,
                )
                env.globals.update(self.globals)
                env.filters.update(when=self.when, number=number, usd=usd, percent=percent)
                self._env = env
            return self._env

    def when(self, timestamp: float | None) -> str:
        if not timestamp:
            return "-"
        return datetime.fromtimestamp(timestamp, self.zone).strftime("%Y-%m-%d %H:%M")


def number(value: float) -> str:
    return f"{value:,.0f}"


def usd(value: float) -> str:
    return f"${value:,.2f}" if value >= 1 or value == 0 else f"${value:.4f}"


def percent(share: float) -> str:
    return f"{100 * share:.0f} %"
