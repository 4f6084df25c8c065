"""Self-test: the real python-telegram-bot ``Bot`` against ``FakeTelegram``."""

from __future__ import annotations

import asyncio
import datetime as dtm
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from telegram import Bot, MessageEntity, ReplyParameters, Update
from telegram.error import BadRequest, Conflict, EndPointNotFound, InvalidToken, RetryAfter
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

from tests.peers.serve import ServerThread, wait_until, wait_until_sync
from tests.peers.telegram_server import FakeTelegram, utf16_len

CHAT = 42


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without it PTB 22 warns (PTBDeprecationWarning -> error here) when reading
    # RetryAfter.retry_after or Voice.duration; with it those are datetime.timedelta.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    bot = Bot(tg.token, base_url=f"{tg.url}/bot", base_file_url=f"{tg.url}/file/bot")
    async with bot:
        yield bot


async def test_get_me(tg: FakeTelegram, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot, me.can_join_groups) == (123456, "test_bot", True, True)
    assert tg.calls("getMe")[-1].status == 200


async def test_wrong_token_is_unauthorized(tg: FakeTelegram) -> None:
    async with httpx.AsyncClient() as client:
        resp = await client.post(f"{tg.url}/bot1:WRONG/getMe")
    assert resp.status_code == 401
    assert resp.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}


async def test_get_updates_returns_real_update_and_confirms(tg: FakeTelegram, bot: Bot) -> None:
    uid = tg.push_message(CHAT, "hello there")
    updates = await bot.get_updates(timeout=0)
    assert len(updates) == 1
    update = updates[0]
    assert isinstance(update, Update) and update.update_id == uid == 1000
    assert update.message is not None and update.message.text == "hello there"
    assert update.effective_user is not None and update.effective_user.id == CHAT
    assert update.message.chat.type == "private"

    assert await bot.get_updates(offset=uid + 1, timeout=0) == ()
    assert tg.confirmed_offset == uid + 1
    assert tg.pending_updates() == []
    assert [c.params.get("offset") for c in tg.get_updates_calls()] == [None, uid + 1]


async def test_group_topic_and_command_message(tg: FakeTelegram, bot: Bot) -> None:
    tg.push_message(-100, "/start@test_bot now", user_id=7, thread_id=5)
    (update,) = await bot.get_updates(timeout=0)
    msg = update.message
    assert msg is not None and msg.chat.type == "supergroup" and msg.chat.is_forum
    assert msg.message_thread_id == 5 and msg.is_topic_message
    assert msg.from_user is not None and msg.from_user.id == 7
    assert msg.parse_entities([MessageEntity.BOT_COMMAND]) != {}
    sent = await bot.send_message(-100, "hi", message_thread_id=5)
    assert sent.message_thread_id == 5 and sent.chat.type == "supergroup"


async def test_long_poll_wakes_on_push(tg: FakeTelegram, bot: Bot) -> None:
    poll = asyncio.ensure_future(bot.get_updates(timeout=600, read_timeout=610))
    # The poll is held open on the server (status 0: no answer yet) when the message comes.
    await wait_until(lambda: [c.status for c in tg.calls("getUpdates")] == [0])
    tg.push_message(CHAT, "late")
    updates = await asyncio.wait_for(poll, 30)  # long before its own 600 s: the push woke it
    assert [u.message.text for u in updates if u.message] == ["late"]
    assert tg.expired_polls == 0


async def test_long_poll_times_out_empty(tg: FakeTelegram, bot: Bot) -> None:
    assert await bot.get_updates(timeout=dtm.timedelta(seconds=0.3)) == ()
    assert tg.expired_polls == 1  # held until its timeout, then answered empty


async def test_second_poller_conflicts_first(tg: FakeTelegram, bot: Bot) -> None:
    # PTB's getUpdates connection pool has size 1: a second concurrent poll needs another Bot.
    other = Bot(tg.token, base_url=f"{tg.url}/bot")
    async with other:
        first = asyncio.create_task(other.get_updates(timeout=5))
        await wait_until(lambda: len(tg.get_updates_calls()) == 1)
        assert await bot.get_updates(timeout=0) == ()
        with pytest.raises(Conflict, match="terminated by other getUpdates"):
            await first
    assert [c.status for c in tg.get_updates_calls()] == [409, 200]


async def test_requeue_redelivers_same_update(tg: FakeTelegram, bot: Bot) -> None:
    uid = tg.push_message(CHAT, "again")
    await bot.get_updates(timeout=0)
    assert await bot.get_updates(offset=uid + 1, timeout=0) == ()
    tg.requeue(uid)
    (update,) = await bot.get_updates(timeout=0)
    assert update.update_id == uid and update.message is not None
    assert update.message.text == "again"


# PTB strips "Bad Request: " from descriptions and .capitalize()s the rest.


async def test_send_message_length_in_utf16_units(tg: FakeTelegram, bot: Bot) -> None:
    too_long = "😀" * 2049
    assert utf16_len(too_long) == 4098
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(CHAT, too_long)
    ok = "😀" * 2048
    msg = await bot.send_message(CHAT, ok)
    assert msg.text == ok and msg.message_id == 1
    assert tg.texts(CHAT) == [ok]
    assert [c.status for c in tg.calls("sendMessage")] == [400, 200]
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(CHAT, "  \n ")


async def test_entities_are_validated(tg: FakeTelegram, bot: Bot) -> None:
    good = [MessageEntity(MessageEntity.BOLD, 0, 2)]  # "😀" is 2 UTF-16 units
    msg = await bot.send_message(CHAT, "😀 hi", entities=good)
    assert msg.entities == tuple(good)
    assert tg.sent_messages(CHAT)[0]["entities"] == [{"type": "bold", "offset": 0, "length": 2}]
    with pytest.raises(BadRequest, match="Can't parse entities"):
        await bot.send_message(CHAT, "😀 hi", entities=[MessageEntity("bold", 2, 4)])
    with pytest.raises(BadRequest, match="Can't parse entities"):
        await bot.send_message(CHAT, "hi", entities=[MessageEntity("text_link", 0, 2)])
    with pytest.raises(BadRequest, match="Can't parse entities"):
        await bot.send_message(CHAT, "Hello.", parse_mode="MarkdownV2")
    await bot.send_message(CHAT, r"*Hello*\. [x](http://a.b/c-d) `1.2`", parse_mode="MarkdownV2")


async def test_edit_message_text(tg: FakeTelegram, bot: Bot) -> None:
    tg.push_message(CHAT, "question")  # user message takes message_id 1 in this chat
    msg = await bot.send_message(CHAT, "draft", reply_parameters=ReplyParameters(1))
    assert msg.message_id == 2
    assert msg.reply_to_message is not None and msg.reply_to_message.text == "question"
    edited = await bot.edit_message_text("final", chat_id=CHAT, message_id=msg.message_id)
    assert not isinstance(edited, bool) and edited.text == "final"
    assert tg.texts(CHAT) == ["final"]
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("final", chat_id=CHAT, message_id=msg.message_id)
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", chat_id=CHAT, message_id=99)
    with pytest.raises(BadRequest, match="Message to edit not found"):  # not the bot's
        await bot.edit_message_text("x", chat_id=CHAT, message_id=1)


async def test_fail_next_429(tg: FakeTelegram, bot: Bot) -> None:
    tg.fail_next("sendMessage", retry_after=3, times=2)
    for _ in range(2):
        with pytest.raises(RetryAfter) as info:
            await bot.send_message(CHAT, "hi")
        assert info.value.retry_after == dtm.timedelta(seconds=3)
    await bot.send_message(CHAT, "hi")
    assert [c.status for c in tg.calls("sendmessage")] == [429, 429, 200]
    assert tg.texts() == ["hi"]


async def test_sent_counts_and_times_hold_only_delivered_messages(
    tg: FakeTelegram, bot: Bot
) -> None:
    tg.fail_next("sendMessage", retry_after=1)
    with pytest.raises(RetryAfter):
        await bot.send_message(CHAT, "refused")
    await bot.send_message(CHAT, "one")
    await bot.send_message(CHAT + 1, "other chat")
    await bot.send_message(CHAT, "two")
    assert tg.sent_counts() == {CHAT: 2, CHAT + 1: 1}
    assert (tg.sent_count(CHAT), tg.sent_count(CHAT + 1), tg.sent_count(7)) == (2, 1, 0)
    delivered = [c.time for c in tg.calls("sendMessage") if c.status == 200 and c.chat_id == CHAT]
    assert tg.sent_times(CHAT) == delivered and len(delivered) == 2
    assert tg.wait_sent(CHAT, 2, timeout=0) and not tg.wait_sent(CHAT, 3, timeout=0.01)
    third = asyncio.get_running_loop().run_in_executor(None, tg.wait_sent, CHAT, 3, 10.0)
    await bot.send_message(CHAT, "three")
    assert await third


async def test_drafts_and_unsupported(tg: FakeTelegram, bot: Bot) -> None:
    assert await bot.send_message_draft(CHAT, draft_id=7, text="thinking") is True
    assert tg.drafts(CHAT)[0]["text"] == "thinking"
    with pytest.raises(BadRequest, match="Draft can be sent only to private chats"):
        await bot.send_message_draft(-100, draft_id=7, text="x")
    tg.unsupported_methods = {"sendMessageDraft"}
    # Telegram answers 404 "Not Found" for unknown methods; PTB maps 404 to InvalidToken.
    with pytest.raises(InvalidToken, match="Not Found"):
        await bot.send_message_draft(CHAT, draft_id=8, text="x")
    with pytest.raises(EndPointNotFound):  # do_api_request re-maps 404 once initialized
        await bot.do_api_request("noSuchMethod")
    assert tg.calls("sendMessageDraft")[-1].status == 404


async def test_chat_action_and_commands(tg: FakeTelegram, bot: Bot) -> None:
    assert await bot.send_chat_action(CHAT, "typing")
    assert tg.chat_actions(CHAT) == ["typing"]
    assert await bot.set_my_commands([("start", "Start"), ("help", "Help")])
    assert tg.commands == [
        {"command": "start", "description": "Start"},
        {"command": "help", "description": "Help"},
    ]
    assert [c.command for c in await bot.get_my_commands()] == ["start", "help"]
    assert await bot.delete_webhook()
    info = await bot.get_webhook_info()
    assert info.url == "" and info.pending_update_count == 0


async def test_get_file_and_download(tg: FakeTelegram, bot: Bot) -> None:
    file_id = tg.add_file(b"\x00OggS-bytes", "voice/file_7.oga")
    tg_file = await bot.get_file(file_id)
    assert tg_file.file_size == 11 and tg_file.file_path is not None
    assert tg_file.file_path.endswith("voice/file_7.oga")
    assert bytes(await tg_file.download_as_bytearray()) == b"\x00OggS-bytes"
    with pytest.raises(BadRequest, match="Invalid file_id"):
        await bot.get_file("nope")


async def test_push_voice_round_trip(tg: FakeTelegram, bot: Bot) -> None:
    tg.push_voice(CHAT, b"voice-data", duration=3)
    (update,) = await bot.get_updates(timeout=0)
    assert update.message is not None and update.message.voice is not None
    voice = update.message.voice
    assert voice.duration == dtm.timedelta(seconds=3)
    data = await (await voice.get_file()).download_as_bytearray()
    assert bytes(data) == b"voice-data"


async def test_send_voice_upload(tg: FakeTelegram, bot: Bot) -> None:
    payload = bytes(range(256)) * 4
    msg = await bot.send_voice(CHAT, voice=payload, caption="a 1.5 caption")
    assert msg.voice is not None and msg.voice.file_size == len(payload)
    assert msg.caption == "a 1.5 caption"
    assert tg.uploaded(CHAT) == [("sendVoice", payload)]
    assert tg.calls("sendVoice")[0].params["voice"] == payload
    tg_file = await bot.get_file(msg.voice.file_id)
    assert bytes(await tg_file.download_as_bytearray()) == payload


async def test_wait_for_messages(tg: FakeTelegram, bot: Bot) -> None:
    async def later() -> None:
        await asyncio.sleep(0.05)
        await bot.send_message(CHAT, "one")
        await bot.send_message(CHAT, "two")

    task = asyncio.create_task(later())
    msgs = await tg.wait_for_messages(CHAT, 2, timeout=2)
    await task
    assert [m["text"] for m in msgs] == ["one", "two"]
    with pytest.raises(AssertionError, match="expected 3 messages"):
        await tg.wait_for_messages(CHAT, 3, timeout=0.1)


async def test_form_json_and_query_parsing(tg: FakeTelegram) -> None:
    base = f"{tg.url}/bot{tg.token}"
    async with httpx.AsyncClient() as client:
        r1 = await client.post(f"{base}/sendMessage", json={"chat_id": 5, "text": "123"})
        r2 = await client.get(f"{base}/SENDMESSAGE", params={"chat_id": "5", "text": "true"})
        r3 = await client.post(f"{base}/sendMessage", data={"chat_id": "5", "text": "[1]"})
    assert [r.json()["result"]["text"] for r in (r1, r2, r3)] == ["123", "true", "[1]"]
    assert [c.chat_id for c in tg.calls("sendMessage")] == [5, 5, 5]
    async with httpx.AsyncClient() as client:
        bad = await client.post(f"{base}/getUpdates", data={"offset": "abc"})
        missing = await client.get(f"{tg.url}/file/bot{tg.token}/no/such/file")
    assert bad.status_code == 400 and bad.json()["ok"] is False
    assert missing.status_code == 404


async def test_real_application_echo(tg: FakeTelegram) -> None:
    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_message.text
        await update.effective_message.reply_text(update.effective_message.text.upper())

    app = (
        ApplicationBuilder()
        .token(tg.token)
        .base_url(f"{tg.url}/bot")
        .base_file_url(f"{tg.url}/file/bot")
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT, echo))
    tg.push_message(CHAT, "before start")
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=dtm.timedelta(seconds=5))
        msgs = await tg.wait_for_messages(CHAT, 1, timeout=3)
        tg.push_message(CHAT, "while polling")
        msgs = await tg.wait_for_messages(CHAT, 2, timeout=3)
        await app.updater.stop()
        await app.stop()
    assert [m["text"] for m in msgs] == ["BEFORE START", "WHILE POLLING"]
    assert tg.pending_updates() == []  # PTB confirms the last offset on shutdown
    assert tg.calls()[0].method == "getMe"


def test_server_thread_and_wait_until_sync() -> None:
    from aiohttp import web

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hi")

    app = web.Application()
    app.router.add_get("/", hello)
    server = ServerThread(app)
    with server as url:
        assert url == server.url == f"http://127.0.0.1:{server.port}"
        assert httpx.get(url).text == "hi"
        assert server.loop.is_running()
    assert not server.running
    wait_until_sync(lambda: True)
    with pytest.raises(AssertionError, match="nope"):
        wait_until_sync(lambda: False, timeout=0.05, message="nope")
