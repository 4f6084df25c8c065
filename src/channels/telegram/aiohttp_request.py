"""python-telegram-bot's network backend over aiohttp.

PTB talks to the Bot API through a `BaseRequest`; its default, `HTTPXRequest`, costs about
0.7 ms of CPU per request against a local server, aiohttp about 0.25 ms (bench/e2e.py
overhead; every turn makes two: the getUpdates that brings the message, the reply). This
class is that interface over an `aiohttp.ClientSession`: PTB still builds the requests,
parses the answers, raises its errors and applies the rate limiter.

A proxy from HTTP(S)_PROXY/NO_PROXY is honoured as with httpx, looked up once per origin:
aiohttp's own `trust_env` would look it up, and read ~/.netrc, in a worker thread on every
request (two thread trips each, about a tenth of a turn's CPU).
"""

from __future__ import annotations

import functools
import urllib.parse
import urllib.request
from typing import NamedTuple

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData
from yarl import URL


class AiohttpRequest(BaseRequest):
    """Timeouts as in `HTTPXRequest` (None means no limit). aiohttp has no write timeout of
    its own, so the four together also bound the whole request when all are set."""

    __slots__ = (
        "_connect_timeout",
        "_media_write_timeout",
        "_pool_size",
        "_pool_timeout",
        "_proxies",
        "_read_timeout",
        "_session",
        "_write_timeout",
    )

    def __init__(
        self,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[str, _Proxy] = {}

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._pool_size)
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data else None
        fields = request_data.json_parameters if request_data else None
        timeout = self._timeout(
            read=_given(read_timeout, self._read_timeout),
            write=_given(
                write_timeout, self._media_write_timeout if files else self._write_timeout
            ),
            connect=_given(connect_timeout, self._connect_timeout),
            pool=_given(pool_timeout, self._pool_timeout),
        )
        body: aiohttp.FormData | dict[str, str] | None = fields
        if files:
            body = aiohttp.FormData(fields or {})
            for name, (filename, content, mimetype) in files.items():
                body.add_field(name, content, filename=filename, content_type=mimetype)
        parts = urllib.parse.urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._proxies:
            self._proxies[origin] = _proxy_for(origin)
        proxy = self._proxies[origin]
        try:
            async with self._session.request(
                method,
                url,
                data=body,
                timeout=timeout,
                proxy=proxy.url,
                proxy_headers=proxy.tunnel_headers,
                headers=proxy.request_headers,
            ) as response:
                return response.status, await response.read()
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            detail = str(exc).replace(url, "<url>")  # the URL holds the bot token
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {detail}") from exc

    @staticmethod
    @functools.lru_cache(maxsize=64)  # a handful of combinations; ClientTimeout is immutable
    def _timeout(
        read: float | None, write: float | None, connect: float | None, pool: float | None
    ) -> aiohttp.ClientTimeout:
        parts = (read, write, connect, pool)
        total = None if any(p is None for p in parts) else sum(p for p in parts if p)
        wait_for_connection = None if pool is None or connect is None else pool + connect
        return aiohttp.ClientTimeout(
            total=total, connect=wait_for_connection, sock_connect=connect, sock_read=read
        )


class _Proxy(NamedTuple):
    url: URL | None = None
    tunnel_headers: dict[str, str] | None = None  # on the CONNECT for an https origin
    request_headers: dict[str, str] | None = None  # on each request to an http origin


def _proxy_for(origin: str) -> _Proxy:
    """The proxy the environment names for `origin` (scheme://host[:port]). A login in the
    proxy's URL goes to the proxy alone: on the CONNECT that opens a tunnel to an https origin
    (never through the tunnel), or on each request sent to the proxy for an http origin."""
    target = URL(origin)
    if target.host is None or urllib.request.proxy_bypass(target.host):
        return _Proxy()
    named = urllib.request.getproxies().get(target.scheme)
    if not named:
        return _Proxy()
    proxy = URL(named)
    if proxy.user is None:
        return _Proxy(proxy)
    login = {"Proxy-Authorization": aiohttp.encode_basic_auth(proxy.user, proxy.password or "")}
    if target.scheme == "https":
        return _Proxy(proxy.with_user(None), tunnel_headers=login)
    return _Proxy(proxy.with_user(None), request_headers=login)


def _given(value: ODVInput[float], default: float | None) -> float | None:
    return default if isinstance(value, DefaultValue) else value
