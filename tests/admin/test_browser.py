"""The admin page in a real browser: Debian's headless Chromium driven by Selenium through
Debian's chromedriver (nothing downloaded: the driver's path is given, so Selenium Manager
never runs, and a tripwire fails the test if it is asked). Signs in, opens a conversation,
sees the usage chart drawn, denies a user and checks that the bot refuses them now.

Screenshots of each step are kept under the test's tmp_path (screenshots/).
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest

from src.channels.telegram import texts
from src.conversation.message import Message
from src.llm.client import Usage
from tests.admin.client import ADDED, ADMIN, TOKEN, runtime_of, seed, start_admin_bot
from tests.clock import TestClock
from tests.harness import OWNER, BotRunner

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
INSTALL = (
    "Debian's chromium and chromium-driver are needed for the admin page's browser test: "
    "apt-get install chromium chromium-driver (scripts/test.sh installs them)"
)
WAIT_S = 20


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        which = shutil.which("chromium"), shutil.which("chromedriver")
        pytest.fail(f"{INSTALL} (found: {which})")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.selenium_manager import SeleniumManager

    def no_downloads(*_: object, **__: object) -> None:
        raise AssertionError("Selenium Manager ran (it would fetch a driver from the network)")

    monkeypatch.setattr(SeleniumManager, "binary_paths", no_downloads)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1200,1000",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ):
        options.add_argument(argument)
    service = Service(executable_path=CHROMEDRIVER, log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(WAIT_S)
    try:
        yield driver
    finally:
        driver.quit()


def _walk(driver: Any, base: str, shots: Path) -> dict[str, Any]:
    """The person at the browser (runs in a thread: the bot serves from the test's loop)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, WAIT_S)
    seen: dict[str, Any] = {}
    driver.get(f"{base}/usage")
    wait.until(ready.presence_of_element_located((By.ID, "token")))
    seen["sign_in_url"] = driver.current_url
    driver.save_screenshot(str(shots / "1-sign-in.png"))
    driver.find_element(By.ID, "token").send_keys(TOKEN)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "table.conversations")))
    seen["cookies"] = driver.get_cookies()
    driver.save_screenshot(str(shots / "2-conversations.png"))

    driver.find_element(By.LINK_TEXT, str(OWNER)).click()
    wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "ol.history")))
    details = driver.find_element(By.CSS_SELECTOR, "ol.history details")
    seen["folded_open"] = details.get_attribute("open")
    details.find_element(By.TAG_NAME, "summary").click()  # unfold the tool call
    seen["unfolded_open"] = details.get_attribute("open")
    seen["history"] = driver.find_element(By.CSS_SELECTOR, "ol.history").text
    driver.save_screenshot(str(shots / "3-conversation.png"))

    driver.get(f"{base}/usage")
    chart = wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "figure.chart svg")))
    points = chart.find_elements(By.CSS_SELECTOR, "rect.point")
    seen["points"] = [
        (p.get_attribute("data-label"), float(p.get_attribute("data-value") or 0), p.size)
        for p in points
    ]
    seen["chart_size"] = chart.size
    driver.save_screenshot(str(shots / "4-usage.png"))

    driver.get(f"{base}/access")
    row = wait.until(ready.presence_of_element_located((By.ID, f"user-{ADDED}")))
    row.find_element(By.CSS_SELECTOR, "button.deny").click()
    flash = wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "p.flash")))
    seen["flash"] = flash.text
    seen["rows_after"] = len(driver.find_elements(By.ID, f"user-{ADDED}"))
    driver.save_screenshot(str(shots / "5-denied.png"))
    return seen


async def test_sign_in_read_see_the_chart_and_deny_a_user(
    bots: BotRunner, browser: Any, tmp_path: Path
) -> None:
    clock = TestClock()
    bot = await start_admin_bot(
        bots, clock, llm={"models": {"test-model": {"input_usd_per_mtok": 2.0}}}
    )
    runtime = runtime_of(bot)
    await runtime.access.allow(ADDED, by=ADMIN, at=clock.time(), name="Dave")
    call = {"id": "c1", "type": "function", "function": {"name": "get_current_time"}}
    await seed(
        bot,
        str(OWNER),
        Message("user", "what time is it?"),
        Message("assistant", None, tool_calls=[call]),
        Message("tool", "09:30 UTC", tool_call_id="c1", metadata={"tool": "get_current_time"}),
        Message("assistant", "It is half past nine."),
    )
    for day, tokens in enumerate((1200, 0, 3400)):
        if tokens:
            await runtime.coordinator.limits.charge_chat(OWNER, "test-model", Usage(tokens, 0))
        if day < 2:
            await clock.advance(86400)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    base = f"http://127.0.0.1:{bots.health_port}/admin"

    seen = await asyncio.to_thread(_walk, browser, base, shots)

    assert seen["sign_in_url"] == f"{base}/login"
    session = next(c for c in seen["cookies"] if c["name"] == "admin_session")
    assert session["httpOnly"] is True and session["sameSite"] == "Strict"
    assert "It is half past nine." in seen["history"]
    assert seen["folded_open"] is None and seen["unfolded_open"] == "true"
    assert "09:30 UTC" not in seen["history"].split("result of get_current_time")[0]
    points = seen["points"]
    tokens_per_day = points[:30]
    assert [value for _, value, _ in tokens_per_day[-3:]] == [1200.0, 0.0, 3400.0]
    tall = max(tokens_per_day, key=lambda point: point[1])
    assert tall[2]["height"] > 50  # drawn, and the biggest day is a tall bar
    assert seen["chart_size"]["width"] > 300
    assert f"User {ADDED} can no longer use the bot." in seen["flash"]
    assert seen["rows_after"] == 0
    assert all((shots / name).stat().st_size > 1000 for name in _shot_names())

    assert not runtime.access.is_allowed(ADDED)  # the bot's own allowlist changed
    bots.telegram.push_message(ADDED, "hello?")
    reply = await bots.telegram.wait_for_messages(ADDED, 1)
    assert reply[0]["text"] == texts.refused(ADDED)
    assert bots.model.request_count == 0


def _shot_names() -> list[str]:
    return ["1-sign-in.png", "2-conversations.png", "3-conversation.png", "4-usage.png"]
