"""The aiohttp network backend under the real python-telegram-bot `Bot`, against the local
Bot API server (and, for a stalled answer, a server that never answers in time)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dtm
import socket
import threading
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from telegram import Bot
from telegram.error import NetworkError, RetryAfter, TimedOut

from src.channels.telegram.aiohttp_request import AiohttpRequest
from tests.peers.serve import ServerThread
from tests.peers.telegram_server import FakeTelegram

CHAT = 42


def make_bot(token: str, url: str) -> Bot:
    return Bot(
        token,
        base_url=f"{url}/bot",
        base_file_url=f"{url}/file/bot",
        request=AiohttpRequest(),
        get_updates_request=AiohttpRequest(connection_pool_size=1),
    )


@contextlib.asynccontextmanager
async def requests_only(bot: Bot) -> AsyncIterator[Bot]:
    """The bot's requests started, without `Bot.initialize` (which calls getMe)."""
    await bot.request.initialize()
    try:
        yield bot
    finally:
        await bot.request.shutdown()


@pytest.fixture
def tg(telegram: FakeTelegram) -> FakeTelegram:
    return telegram  # tests/conftest.py's local Bot API server (which also sets PTB_TIMEDELTA)


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    async with make_bot(tg.token, tg.url) as bot:
        yield bot


async def test_text_and_updates_round_trip(tg: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(CHAT, "héllo 😀 & <b>")
    assert sent.text == "héllo 😀 & <b>"
    assert tg.calls("sendMessage")[0].params["text"] == "héllo 😀 & <b>"
    tg.push_message(CHAT, "from the user")
    (update,) = await bot.get_updates(timeout=5)
    assert update.message is not None and update.message.text == "from the user"


async def test_a_file_upload_arrives_whole(tg: FakeTelegram, bot: Bot) -> None:
    payload = bytes(range(256)) * 40
    await bot.send_voice(CHAT, voice=payload, caption="a caption")
    assert tg.uploaded(CHAT) == [("sendVoice", payload)]
    assert tg.calls("sendVoice")[0].params["caption"] == "a caption"


async def test_flood_control_becomes_retry_after(tg: FakeTelegram, bot: Bot) -> None:
    tg.fail_next("sendMessage", 429, retry_after=3)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(CHAT, "too fast")
    assert caught.value.retry_after == dtm.timedelta(seconds=3)


async def test_an_answer_slower_than_the_read_timeout_is_timed_out() -> None:
    released = threading.Event()  # the server answers only after the client has given up

    async def stall(request: web.Request) -> web.Response:
        await asyncio.to_thread(released.wait, 30)  # 30 s: only a hang guard
        return web.json_response({"ok": True, "result": True})

    app = web.Application()
    app.router.add_post("/bot{token}/{method}", stall)
    with ServerThread(app) as url:
        try:
            async with requests_only(make_bot("123:SECRET", url)) as bot:
                with pytest.raises(TimedOut):
                    await bot.get_me(read_timeout=0.2)
        finally:
            released.set()  # so the server stops cleanly


async def test_an_unreachable_server_is_a_network_error_without_the_token() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with requests_only(make_bot("123:SECRET-TOKEN", f"http://127.0.0.1:{port}")) as bot:
        with pytest.raises(NetworkError) as caught:
            await bot.send_message(CHAT, "anyone there?")
    assert not isinstance(caught.value, TimedOut)
    assert "SECRET-TOKEN" not in str(caught.value)
    assert "SECRET-TOKEN" not in str(caught.value.__cause__)


async def test_a_request_before_initialize_is_refused() -> None:
    with pytest.raises(RuntimeError, match="not initialized"):
        await AiohttpRequest().do_request("http://127.0.0.1:1/x", "POST")


async def test_the_proxy_from_the_environment_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTPS_PROXY/HTTP_PROXY are honoured, as python-telegram-bot's httpx default does, with
    the login in the proxy's URL sent as Proxy-Authorization (and never to the Bot API)."""
    seen: list[tuple[str, str | None]] = []

    async def proxy(request: web.Request) -> web.Response:
        seen.append((str(request.url), request.headers.get("Proxy-Authorization")))
        return web.json_response({"ok": True, "result": True})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", proxy)
    with ServerThread(app) as url:
        monkeypatch.setenv("HTTP_PROXY", url.replace("http://", "http://me:pw@"))
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        async with requests_only(make_bot("123:SECRET", "http://api.telegram.invalid")) as bot:
            assert await bot.log_out() is True
            assert await bot.close() is True
    login = "Basic " + base64.b64encode(b"me:pw").decode()
    assert seen == [
        ("http://api.telegram.invalid/bot123:SECRET/logOut", login),
        ("http://api.telegram.invalid/bot123:SECRET/close", login),
    ]


async def test_an_https_origin_is_tunnelled_with_the_login_on_the_connect(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """For https (api.telegram.org), the login goes on the CONNECT to the proxy; here the
    proxy refuses the tunnel, which reaches the caller as a NetworkError."""
    heads: list[bytes] = []
    with socket.create_server(("127.0.0.1", 0)) as server:

        def refuse_one() -> None:
            conn, _ = server.accept()
            with conn:
                head = b""
                while b"\r\n\r\n" not in head:
                    head += conn.recv(4096)
                heads.append(head)
                conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")

        proxy = threading.Thread(target=refuse_one)
        proxy.start()
        monkeypatch.setenv("HTTPS_PROXY", f"http://me:pw@127.0.0.1:{server.getsockname()[1]}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        async with requests_only(make_bot("123:SECRET", "https://api.telegram.invalid")) as bot:
            with pytest.raises(NetworkError):
                await bot.log_out()
        proxy.join(5)
    request_line, *headers = heads[0].decode().split("\r\n")
    assert request_line == "CONNECT api.telegram.invalid:443 HTTP/1.1"
    assert "Proxy-Authorization: Basic " + base64.b64encode(b"me:pw").decode() in headers


async def test_no_proxy_sends_a_host_direct(
    monkeypatch: pytest.MonkeyPatch, telegram: FakeTelegram
) -> None:
    """A host in NO_PROXY is reached directly although HTTP_PROXY names a proxy (here one
    that is down)."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}"
    monkeypatch.setenv("HTTP_PROXY", dead)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    async with requests_only(make_bot(telegram.token, telegram.url)) as bot:
        assert (await bot.get_me()).is_bot
