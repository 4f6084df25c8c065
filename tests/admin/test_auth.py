"""The admin page's doors, tried from outside over HTTP: sign-in and its cookie, the guard on
every URL, CSRF, the limit on wrong tokens (on the test clock), sessions that end."""

from __future__ import annotations

import pytest

from src.admin.auth import MAX_FAILURES, WINDOW_S
from src.conversation.message import Message
from tests.admin.client import (
    ADDED,
    ADMIN,
    TOKEN,
    AdminClient,
    runtime_of,
    seed,
    start_admin_bot,
)
from tests.clock import TestClock
from tests.harness import OWNER, BotRunner, InProcessBot

SECRET_TEXT = "the-launch-code-is-8812"
PAGES = ["/conversations", "/usage", "/tools", "/access", "/reminders", "/memory"]


async def _bot_with_history(bots: BotRunner) -> tuple[InProcessBot, TestClock]:
    clock = TestClock()
    bot = await start_admin_bot(bots, clock, scheduler={"enabled": True}, memory={"enabled": True})
    await runtime_of(bot).access.allow(ADDED, by=ADMIN, at=clock.time())
    await seed(bot, str(OWNER), Message("user", SECRET_TEXT), Message("assistant", "noted"))
    return bot, clock


async def test_signing_in_sets_a_strict_http_only_session_cookie(bots: BotRunner) -> None:
    await _bot_with_history(bots)
    async with AdminClient(bots.health_port) as client:
        status, page, response = await client.get("/login")
        assert status == 200 and 'type="password"' in page
        login_cookie = response.headers["Set-Cookie"]
        assert "HttpOnly" in login_cookie and "SameSite=Strict" in login_cookie

        status, _, response = await client.sign_in()
        assert status == 303
        assert response.headers["Location"] == "/admin/conversations"
        cookies = response.headers.getall("Set-Cookie")
        session = next(c for c in cookies if c.startswith("admin_session="))
        assert "HttpOnly" in session
        assert "SameSite=Strict" in session
        assert "Path=/admin" in session
        assert "Secure" not in session  # plain HTTP through the SSH tunnel
        assert TOKEN not in session

        status, page, response = await client.get("/conversation", id=str(OWNER))
        assert status == 200 and SECRET_TEXT in page
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Frame-Options"] == "DENY"
        status, _, response = await client.get("/")
        assert (status, response.headers["Location"]) == (303, "/admin/conversations")


@pytest.mark.parametrize("cookie", [None, "forged-session-id"])
async def test_without_a_session_every_url_sends_to_sign_in_and_shows_nothing(
    bots: BotRunner, cookie: str | None
) -> None:
    bot, _ = await _bot_with_history(bots)
    async with AdminClient(bots.health_port) as client:
        if cookie is not None:
            client.session.cookie_jar.update_cookies({"admin_session": cookie})
        for path in [*PAGES, "/", "/conversation?id=4242", "/memory?user=4242", "/nope"]:
            async with client.session.get(client.base + path, allow_redirects=False) as response:
                body = await response.text()
                assert response.status == 303, path
                assert response.headers["Location"] == "/admin/login", path
                assert SECRET_TEXT not in body and str(OWNER) not in body, path
        for path in ["/access/deny", "/access/allow", "/logout", "/conversations"]:
            status, body, _ = await client.post(path, {"user_id": str(ADDED)}, csrf="x")
            assert status == 403, path
            assert SECRET_TEXT not in body
    assert runtime_of(bot).access.is_allowed(ADDED)  # nothing changed


async def test_a_post_without_the_sessions_csrf_token_is_refused(bots: BotRunner) -> None:
    bot, _ = await _bot_with_history(bots)
    access = runtime_of(bot).access
    async with AdminClient(bots.health_port) as client:
        await client.sign_in()
        await client.get("/access")
        good = client.csrf
        for csrf, headers in (
            ("", {}),
            ("wrong", {}),
            (good, {"Origin": "http://evil.example"}),
            (good, {"Origin": "null"}),
            (good, {"Origin": f"http://127.0.0.1:{bots.health_port}.evil.example"}),
        ):
            status, _, _ = await client.post(
                "/access/deny", {"user_id": str(ADDED)}, csrf, **headers
            )
            assert status == 403
            assert access.is_allowed(ADDED)
        status, _, response = await client.post("/access/deny", {"user_id": str(ADDED)}, good)
        assert (status, response.headers["Location"]) == (303, "/admin/access")
        assert not access.is_allowed(ADDED)
        _, page, _ = await client.get("/access")
        assert f"User {ADDED} can no longer use the bot." in page  # shown once
        _, page, _ = await client.get("/access")
        assert "can no longer use the bot" not in page


async def test_the_sign_in_form_needs_its_own_csrf_cookie(bots: BotRunner) -> None:
    await _bot_with_history(bots)
    async with AdminClient(bots.health_port) as client:
        status, _, _ = await client.post("/login", {"token": TOKEN}, csrf="made-up")
        assert status == 403  # never fetched the form: no cookie to match
        await client.get("/login")
        status, _, _ = await client.post("/login", {"token": TOKEN}, csrf="made-up")
        assert status == 403
        status, _, _ = await client.get("/conversations")
        assert status == 303  # still not signed in


async def test_wrong_tokens_are_limited_on_the_clock(bots: BotRunner) -> None:
    _, clock = await _bot_with_history(bots)
    async with AdminClient(bots.health_port) as client:
        for attempt in range(MAX_FAILURES):
            status, page, _ = await client.sign_in(f"guess-{attempt}")
            assert status == 401 and "That token is not right." in page
        status, page, response = await client.sign_in()  # the right one, but too soon
        assert status == 429
        assert "Too many wrong tokens" in page
        assert int(response.headers["Retry-After"]) > 0
        assert (await client.get("/conversations"))[0] == 303
        await clock.advance(WINDOW_S - 1)
        assert (await client.sign_in())[0] == 429
        await clock.advance(1)
        status, _, _ = await client.sign_in()
        assert status == 303
        assert (await client.get("/conversations"))[0] == 200


async def test_a_session_ends_after_its_time_and_on_sign_out(bots: BotRunner) -> None:
    clock = TestClock()
    await start_admin_bot(bots, clock, admin={"session_ttl_s": 600})
    async with AdminClient(bots.health_port) as client:
        await client.sign_in()
        assert (await client.get("/usage"))[0] == 200
        await clock.advance(599)
        assert (await client.get("/usage"))[0] == 200
        await clock.advance(1)
        assert (await client.get("/usage"))[0] == 303

        await client.sign_in()
        await client.get("/usage")
        status, _, response = await client.post("/logout", {})
        assert (status, response.headers["Location"]) == (303, "/admin/login")
        assert (await client.get("/usage"))[0] == 303


async def test_pages_of_features_that_are_off_do_not_exist(bots: BotRunner) -> None:
    await start_admin_bot(bots)  # scheduler and memory off
    async with AdminClient(bots.health_port) as client:
        await client.sign_in()
        _, page, _ = await client.get("/conversations")
        assert "/admin/reminders" not in page and "/admin/memory" not in page
        assert (await client.get("/reminders"))[0] == 404
        assert (await client.get("/memory"))[0] == 404


async def test_the_page_is_not_served_when_off(bots: BotRunner) -> None:
    bots.extra_env["ADMIN_TOKEN"] = TOKEN
    await bots.start(clock=TestClock())
    async with AdminClient(bots.health_port) as client:
        assert (await client.get("/login"))[0] == 404
        assert (await client.post("/login", {"token": TOKEN}))[0] == 404
