"""The admin page as an aiohttp sub-application of the health server, under `admin.path`.

Every URL under the path but the sign-in form and the style sheet needs a session: a GET
without one is sent to the sign-in form, anything else gets 403, and neither says more. A
POST also needs the session's CSRF token (and, when the browser sends an Origin, this
server's own). Every answer carries headers that keep it out of frames, caches and other
origins' reach, and a Content-Security-Policy that allows this server's own files only.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from zoneinfo import ZoneInfo

from aiohttp import web

from src.admin.auth import (
    LOGIN_COOKIE,
    SESSION,
    SESSION_COOKIE,
    Sessions,
    SignInLimiter,
    new_secret,
    same_secret,
)
from src.admin.pages import Pages
from src.admin.render import STATIC, Renderer
from src.clock import Clock
from src.errors import ConversationError
from src.runtime import Runtime

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PUBLIC = frozenset({"sign_in", "sign_in_form", "style"})
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",  # no-referrer would make browsers send "Origin: null"
    "Cache-Control": "no-store",
}


class AdminSite:
    def __init__(self, runtime: Runtime, clock: Clock) -> None:
        config = runtime.config
        self.base = config.admin.path
        self.token = config.admin.token.get_secret_value()
        self.sessions = Sessions(clock, config.admin.session_ttl_s)
        self.limiter = SignInLimiter(clock)
        nav = Pages.navigation(config.scheduler.enabled, config.memory.enabled)
        self.renderer = Renderer(self.base, ZoneInfo(config.tools.default_timezone), nav)
        self.pages = Pages(runtime, self.renderer, self.base)

    def mount(self, app: web.Application) -> None:
        """Add the page to the health server's application (before it starts)."""
        sub = web.Application(middlewares=[self._guard])
        sub.add_routes(
            [
                web.get("/", self._home, name="home"),
                web.get("/login", self._sign_in_form, name="sign_in_form"),
                web.post("/login", self._sign_in, name="sign_in"),
                web.post("/logout", self._sign_out, name="sign_out"),
                web.get("/static/admin.css", self._style, name="style"),
                *self.pages.routes(),
            ]
        )
        app.add_subapp(self.base, sub)

    # -- the guard -----------------------------------------------------------------------

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await self._checked(request, handler)
        except web.HTTPException as exc:
            exc.headers.update(HEADERS)
            raise
        response.headers.update(HEADERS)
        return response

    async def _checked(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        route = request.match_info.route.name
        if route in PUBLIC:
            return await handler(request)
        session = self.sessions.get(request.cookies.get(SESSION_COOKIE))
        if session is None:
            if request.method in ("GET", "HEAD"):
                raise web.HTTPSeeOther(f"{self.base}/login")
            raise web.HTTPForbidden(text="Sign in first.")
        if request.method not in ("GET", "HEAD"):
            form = await request.post()
            if not self._same_origin(request) or not same_secret(
                str(form.get("csrf", "")), session.csrf
            ):
                logger.warning("admin page: a %s without a valid CSRF token refused", route)
                raise web.HTTPForbidden(text="This form has expired: reload the page.")
        request[SESSION] = session
        try:
            return await handler(request)
        except ConversationError as exc:
            logger.error("admin page %s: the store failed: %s", route, exc)
            return await self.renderer.page(
                "failed.html", status=503, current="", csrf=session.csrf, flash=[]
            )

    @staticmethod
    def _same_origin(request: web.Request) -> bool:
        """No Origin (an older browser, a script), or this server's host. The scheme is not
        compared: a proxy in front may speak HTTPS while this server sees HTTP."""
        origin = request.headers.get("Origin")
        if origin is None:
            return True
        return origin in (f"http://{request.host}", f"https://{request.host}")

    # -- signing in and out ----------------------------------------------------------------

    async def _home(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPSeeOther(f"{self.base}/conversations")

    async def _sign_in_form(self, request: web.Request) -> web.StreamResponse:
        if self.sessions.get(request.cookies.get(SESSION_COOKIE)) is not None:
            raise web.HTTPSeeOther(f"{self.base}/conversations")
        return await self._form(request, "", 200)

    async def _form(self, request: web.Request, problem: str, status: int) -> web.Response:
        nonce = new_secret()
        response = await self.renderer.page(
            "login.html", status=status, csrf=nonce, problem=problem, current=""
        )
        self._cookie(request, response, LOGIN_COOKIE, nonce, 3600)
        return response

    async def _sign_in(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        nonce = request.cookies.get(LOGIN_COOKIE, "")
        if not nonce or not self._same_origin(request):
            raise web.HTTPForbidden(text="This form has expired: reload the page.")
        if not same_secret(str(form.get("csrf", "")), nonce):
            raise web.HTTPForbidden(text="This form has expired: reload the page.")
        wait = self.limiter.retry_after()
        if wait:
            logger.warning("admin page: sign-in refused, too many wrong tokens")
            response = await self._form(
                request, f"Too many wrong tokens. Try again in {wait:.0f} s.", 429
            )
            response.headers["Retry-After"] = str(int(wait) + 1)
            return response
        if not same_secret(str(form.get("token", "")), self.token):
            self.limiter.failed()
            logger.warning("admin page: wrong token from %s", request.remote)
            return await self._form(request, "That token is not right.", 401)
        session = self.sessions.start()
        logger.info("admin page: signed in from %s", request.remote)
        response = web.HTTPSeeOther(f"{self.base}/conversations")
        self._cookie(request, response, SESSION_COOKIE, session.id, self.sessions.ttl_s)
        response.del_cookie(LOGIN_COOKIE, path=self.base)
        raise response

    async def _sign_out(self, request: web.Request) -> web.StreamResponse:
        self.sessions.end(request.cookies.get(SESSION_COOKIE, ""))
        response = web.HTTPSeeOther(f"{self.base}/login")
        response.del_cookie(SESSION_COOKIE, path=self.base)
        raise response

    def _cookie(
        self, request: web.Request, response: web.StreamResponse, name: str, value: str, age: float
    ) -> None:
        response.set_cookie(
            name,
            value,
            path=self.base,
            max_age=int(age),
            httponly=True,
            samesite="Strict",
            secure=request.secure,
        )

    async def _style(self, _: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "admin.css", headers={"Cache-Control": "no-cache"})
