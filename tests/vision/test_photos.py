"""Photos through the real bot: the local Telegram server delivers real images made here
with Pillow, the local model server decodes the image parts it is sent."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from src.channels.telegram import texts
from src.channels.telegram.albums import SETTLE_S
from src.conversation.message import Message
from tests.clock import TestClock
from tests.harness import OWNER, BotRunner, InProcessBot
from tests.peers.openai_server import SeenImage, images_in
from tests.peers.serve import wait_until
from tests.storeview import StoreView
from tests.vision.images import photo_sizes, picture

CAPTION = "What is in this picture?"


@pytest.fixture(autouse=True)
def vision_on(bots: BotRunner) -> None:
    """vision.enabled is off when the key is absent (config.yml turns it on)."""
    bots.defaults = {"vision": {"enabled": True}}


async def history(bot: InProcessBot) -> list[Message]:
    """The conversation as the running bot's store holds it (file or DynamoDB)."""
    assert bot.service.runtime is not None
    return await StoreView(bot.service.runtime.storage).load_conversation(str(OWNER))


async def replies(bots: BotRunner, count: int) -> list[str]:
    sent = await bots.telegram.wait_for_messages(OWNER, count)
    return [str(m["text"]) for m in sent]


async def say(bots: BotRunner, text: str) -> str:
    before = len(bots.telegram.sent_messages(OWNER))
    bots.telegram.push_message(OWNER, text)
    return (await replies(bots, before + 1))[before]


def image_counts(bots: BotRunner) -> list[int]:
    return [len(images_in(request)) for request in bots.model.requests]


async def test_a_photo_reaches_the_model_beside_its_caption(
    bots: BotRunner, bot_store: dict[str, Any]
) -> None:
    bot = await bots.start(**bot_store)
    sizes = photo_sizes(800, 600)
    bots.telegram.push_photo(OWNER, sizes, caption=CAPTION)
    assert await replies(bots, 1) == [f"echo: {CAPTION}"]

    user = bots.model.last_request()["messages"][-1]
    assert user["role"] == "user" and user["content"][0] == {"type": "text", "text": CAPTION}
    full = sizes[-1][0]
    assert images_in(bots.model.last_request()) == [
        SeenImage("image/jpeg", 800, 600, "auto", len(full))  # the largest size, as it is
    ]
    (got,) = bots.telegram.calls("getFile")
    stored = await history(bot)
    ref = stored[0].metadata["images"][0]
    assert got.params["file_id"] == ref["file_id"]
    assert (ref["width"], ref["height"], ref["mime_type"]) == (800, 600, "image/jpeg")
    assert ref["size"] == len(full)
    assert stored[0].content == CAPTION and stored[0].metadata["source"] == "photo"
    assert len(json.dumps(stored[0].to_dict())) < 1000  # a reference, not the bytes
    assert not bots.model.invalid_requests


async def test_an_image_is_sent_for_keep_turns_then_as_text_and_fetched_again_after_a_restart(
    bots: BotRunner, bot_store: dict[str, Any]
) -> None:
    first = await bots.start(**bot_store)
    bots.telegram.push_photo(OWNER, photo_sizes(640, 480), caption="my cat")
    await replies(bots, 1)
    assert await say(bots, "what colour is it?") == "echo: what colour is it?"
    assert len(bots.telegram.calls("getFile")) == 1  # the second request used the cache
    assert await first.stop() == 0

    bot = await bots.start(**bot_store)
    await say(bots, "and its eyes?")  # the last turn within keep_turns (2)
    assert len(bots.telegram.calls("getFile")) == 2  # fetched again by its file id
    await say(bots, "anything else?")
    await say(bots, "thanks")
    assert image_counts(bots) == [1, 1, 1, 0, 0]
    photo_turn = bots.model.last_request()["messages"][1]
    assert photo_turn == {"role": "user", "content": "[photo: my cat]"}  # the stand-in
    assert len(bots.telegram.calls("getFile")) == 2
    assert (await history(bot))[0].content == "my cat"  # the history itself is unchanged


async def test_an_album_is_one_turn_with_every_image(bots: BotRunner) -> None:
    clock = TestClock()
    bot = await bots.start(clock=clock)
    shapes = [(320, 240), (240, 320), (300, 300)]
    for index, (width, height) in enumerate(shapes):
        caption = "our trip" if index == 0 else None
        bots.telegram.push_photo(OWNER, photo_sizes(width, height, seed=index), caption, "album1")
    last = bots.telegram.pending_updates()[-1]["update_id"]
    await wait_until(lambda: bots.telegram.confirmed_offset > last, message="not accepted")
    assert bots.model.request_count == 0  # held until the album settles
    await clock.advance(SETTLE_S)
    assert await replies(bots, 1) == ["echo: our trip"]
    seen = images_in(bots.model.last_request())
    assert [(i.width, i.height) for i in seen] == shapes
    assert bots.model.request_count == 1
    (user,) = [m for m in await history(bot) if m.role == "user"]
    assert len(user.metadata["images"]) == 3
    assert bot.service.runtime is not None
    owed = StoreView(bot.service.runtime.storage).owed
    for _ in range(50):  # the inbox forgets the parts once the answer is out
        if await owed() == []:
            break
        await asyncio.sleep(0.05)
    assert await owed() == []


async def test_an_album_cut_off_by_a_restart_is_answered_whole_after_it(
    bots: BotRunner, bot_store: dict[str, Any]
) -> None:
    first = await bots.start(clock=TestClock(), **bot_store)
    for index in range(3):
        bots.telegram.push_photo(OWNER, photo_sizes(200, 100 + index), None, "album2")
    last = bots.telegram.pending_updates()[-1]["update_id"]
    await wait_until(lambda: bots.telegram.confirmed_offset > last, message="not accepted")
    assert await first.stop() == 0  # before the album settled: nothing answered
    assert bots.model.request_count == 0

    await bots.start(clock=TestClock(), **bot_store)
    assert await replies(bots, 1) == ["echo: (3 photos, no caption.)"]
    assert [i.height for i in images_in(bots.model.last_request())] == [100, 101, 102]
    assert bots.model.request_count == 1


async def test_a_model_without_image_input_gets_a_plain_answer_and_the_chat_goes_on(
    bots: BotRunner,
) -> None:
    bots.model.vision = False  # answers 400 "image_url is only supported by certain models"
    await bots.start()
    bots.telegram.push_photo(OWNER, photo_sizes(300, 200), caption="look")
    assert await replies(bots, 1) == [texts.NO_IMAGE_INPUT]
    assert bots.model.request_count == 1  # no second try of the same images
    assert await say(bots, "hello") == "echo: hello"
    messages = bots.model.last_request()["messages"]
    assert {"role": "user", "content": "[photo: look]"} in messages
    assert image_counts(bots) == [1, 0]
    assert len(bots.model.invalid_requests) == 1


async def test_a_text_turn_refused_for_an_earlier_image_is_answered_without_it(
    bots: BotRunner,
) -> None:
    await bots.start()
    bots.telegram.push_photo(OWNER, photo_sizes(300, 200), caption="look")
    assert await replies(bots, 1) == ["echo: look"]
    bots.model.vision = False  # the endpoint now serves a model that takes no images
    assert await say(bots, "hello") == "echo: hello"  # no error shown: tried again as text
    assert image_counts(bots) == [1, 1, 0]
    assert {"role": "user", "content": "[photo: look]"} in bots.model.last_request()["messages"]
    assert await say(bots, "still there?") == "echo: still there?"
    assert image_counts(bots) == [1, 1, 0, 0]


async def test_with_vision_off_a_photo_gets_a_plain_answer_and_no_model_call(
    bots: BotRunner,
) -> None:
    await bots.start(vision={"enabled": False})
    bots.telegram.push_photo(OWNER, photo_sizes(300, 200), caption="look")
    for _ in range(3):  # an album: one answer, not one a photo
        bots.telegram.push_photo(OWNER, photo_sizes(300, 200), None, "album3")
    bots.telegram.push_message(OWNER, "ok then")
    assert await replies(bots, 3) == [texts.VISION_OFF, texts.VISION_OFF, "echo: ok then"]
    assert bots.model.request_count == 1 and bots.telegram.calls("getFile") == []


async def test_too_big_images_get_a_plain_answer_naming_the_limit(bots: BotRunner) -> None:
    await bots.start()
    huge = b"\xff\xd8" + b"\x00" * 25_000_000  # 25 MB: never downloaded
    bots.telegram.push_photo(OWNER, [(huge, 6000, 4000)], caption="big one")
    big = picture(2000, 2000, fmt="BMP")  # 12 MB, over vision.max_image_mb (10)
    bots.telegram.push_photo(OWNER, [(big, 2000, 2000)], as_document="image/bmp")
    sent = await replies(bots, 2)
    assert "25 MB" in sent[0] and "Telegram" in sent[0] and "20 MB" in sent[0]
    assert "12 MB" in sent[1] and "up to 10 MB" in sent[1]
    assert bots.telegram.calls("getFile") == [] and bots.model.request_count == 0


async def test_telegram_refusing_the_download_is_explained(bots: BotRunner) -> None:
    await bots.start(vision={"max_image_mb": 20})
    data = b"\xff\xd8" + b"\x00" * 21_000_000
    bots.telegram.push_photo(OWNER, [(data, 6000, 4000)], file_size=1_000_000)  # said small
    (sent,) = await replies(bots, 1)
    assert "Telegram" in sent and "20 MB" in sent
    assert bots.model.request_count == 0


async def test_an_image_file_in_another_format_is_re_encoded(bots: BotRunner) -> None:
    await bots.start()
    bmp = picture(2400, 1200, fmt="BMP")  # 8.6 MB
    bots.telegram.push_photo(OWNER, [(bmp, 2400, 1200)], "a chart", as_document="image/bmp")
    assert await replies(bots, 1) == ["echo: a chart"]
    (seen,) = images_in(bots.model.last_request())
    assert (seen.mime_type, seen.width, seen.height) == ("image/jpeg", 2048, 1024)


async def test_a_transparent_png_stays_png_and_low_detail_is_small(bots: BotRunner) -> None:
    await bots.start(vision={"detail": "low"})
    png = picture(1200, 800, fmt="PNG", mode="RGBA")
    bots.telegram.push_photo(OWNER, [(png, 1200, 800)], "logo", as_document="image/png")
    await replies(bots, 1)
    (seen,) = images_in(bots.model.last_request())
    assert (seen.mime_type, seen.width, seen.height, seen.detail) == ("image/png", 512, 341, "low")


async def test_a_damaged_image_gets_a_plain_answer(bots: BotRunner) -> None:
    await bots.start()
    broken = picture(400, 300)[:2000]  # cut short
    bots.telegram.push_photo(OWNER, [(broken, 400, 300)], "this?", as_document="image/jpeg")
    (sent,) = await replies(bots, 1)
    assert sent.startswith("I couldn't read that image")
    assert bots.model.request_count == 0
    assert await say(bots, "hello") == "echo: hello"
    assert bots.model.last_request()["messages"][1:] == [{"role": "user", "content": "hello"}]


async def test_an_image_turn_is_metered_like_any_other(bots: BotRunner) -> None:
    await bots.start(limits={"daily_tokens": 90, "warn_at": 0})
    bots.telegram.push_photo(OWNER, photo_sizes(300, 200), caption="hi")
    assert await replies(bots, 1) == ["echo: hi"]  # the image alone is 85 tokens or more
    refusal = await say(bots, "and now?")
    assert "daily" in refusal.lower()
    bots.telegram.push_photo(OWNER, photo_sizes(300, 200), caption="and this?")
    assert (await replies(bots, 3))[2] == refusal  # refused before it is downloaded
    assert bots.model.request_count == 1 and len(bots.telegram.calls("getFile")) == 1


async def test_in_a_group_a_photo_is_answered_when_its_caption_mentions_the_bot(
    bots: BotRunner,
) -> None:
    group = -100555
    await bots.start()
    bots.telegram.push_photo(group, photo_sizes(200, 100), "holiday snaps", user_id=OWNER)
    mention = [{"type": "mention", "offset": 0, "length": len("@test_bot")}]
    bots.telegram.push_photo(
        group,
        photo_sizes(300, 100),
        "@test_bot what is this?",
        user_id=OWNER,
        caption_entities=mention,
    )
    sent = await bots.telegram.wait_for_messages(group, 1)
    assert sent[0]["text"] == "echo: what is this?"  # the mention is stripped
    (seen,) = images_in(bots.model.last_request())
    assert seen.width == 300  # the mentioned photo; the other cost nothing
    assert bots.model.request_count == 1 and len(bots.telegram.calls("getFile")) == 1


async def test_help_says_what_the_bot_can_see(bots: BotRunner) -> None:
    await bots.start()
    assert texts.PHOTOS_HELP.strip() in await say(bots, "/help")


async def test_help_says_nothing_of_photos_with_vision_off(bots: BotRunner) -> None:
    await bots.start(vision={"enabled": False})
    helped = await say(bots, "/help")
    assert helped.startswith(texts.HELP) and "photo" not in helped.lower()
