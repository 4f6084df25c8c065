"""Signing in to the admin page: the token check, sessions, CSRF tokens and the limiter of
wrong tokens.

- The token (ADMIN_TOKEN) is compared in constant time (hmac.compare_digest of SHA-256
  digests, so not even its length shows in the timing).
- A sign-in starts a session: a random id in an HTTP-only, SameSite=Strict cookie scoped to
  the page's path, kept in memory (a restart signs everyone out) for `admin.session_ttl_s`.
- Each session has its own CSRF token, a hidden field in every form; a POST without it is
  refused. The sign-in form itself is covered the same way by a short-lived cookie.
- Wrong tokens are limited: after `MAX_FAILURES` within `WINDOW_S`, every sign-in is refused
  (the right token too) until the oldest failure leaves the window. The page listens on
  loopback behind an SSH tunnel, where every client has the same address, so the limit is
  global rather than per address.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import OrderedDict, deque
from dataclasses import dataclass, field

from aiohttp import web

from src.clock import Clock

SESSION_COOKIE = "admin_session"
LOGIN_COOKIE = "admin_login"  # the sign-in form's CSRF token (double submit)
MAX_FAILURES = 5
WINDOW_S = 300.0
MAX_SESSIONS = 64  # the oldest sign-in goes when one more starts


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison of two secrets (of any lengths)."""
    left = hashlib.sha256(given.encode("utf-8", "surrogatepass")).digest()
    right = hashlib.sha256(expected.encode("utf-8", "surrogatepass")).digest()
    return hmac.compare_digest(left, right) and bool(expected)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


@dataclass
class Session:
    id: str
    csrf: str
    expires_at: float
    flash: list[str] = field(default_factory=list)  # notes shown once on the next page


SESSION = web.RequestKey("admin_session", Session)  # the signed-in request's session


class Sessions:
    def __init__(self, clock: Clock, ttl_s: float) -> None:
        self.clock = clock
        self.ttl_s = ttl_s
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def start(self) -> Session:
        session = Session(new_secret(), new_secret(), self.clock.time() + self.ttl_s)
        self._sessions[session.id] = session
        while len(self._sessions) > MAX_SESSIONS:
            self._sessions.popitem(last=False)
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this id, or None (unknown or expired)."""
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return None
        if session.expires_at <= self.clock.time():
            del self._sessions[session_id]
            return None
        return session

    def end(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)


class SignInLimiter:
    """At most MAX_FAILURES wrong tokens within WINDOW_S (on the injectable clock)."""

    def __init__(
        self, clock: Clock, max_failures: int = MAX_FAILURES, window_s: float = WINDOW_S
    ) -> None:
        self.clock = clock
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: deque[float] = deque()

    def retry_after(self) -> float:
        """0 when a sign-in may be tried now, else the seconds until one may."""
        now = self.clock.time()
        while self._failures and self._failures[0] <= now - self.window_s:
            self._failures.popleft()
        if len(self._failures) < self.max_failures:
            return 0.0
        return max(self._failures[0] + self.window_s - now, 1.0)

    def failed(self) -> None:
        self._failures.append(self.clock.time())
