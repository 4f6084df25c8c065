"""A voice note whose transcript has nothing visible is never a turn."""

from __future__ import annotations

from tests.harness import OWNER, BotRunner
from tests.voice.audio import tone


async def test_a_transcript_with_nothing_visible_is_not_sent_to_the_model(
    bots: BotRunner,
) -> None:
    bots.model.audio.transcript = " \u200b\u3000 "
    bots.model.reject_blank = True
    await bots.start()
    bots.telegram.push_voice(OWNER, tone(1.0), duration=1)
    sent = await bots.telegram.wait_for_messages(OWNER, 1)
    assert "couldn't hear anything" in sent[0]["text"]
    bots.telegram.push_message(OWNER, "then in writing")
    sent = await bots.telegram.wait_for_messages(OWNER, 2)
    assert sent[1]["text"] == "echo: then in writing"
    assert bots.model.request_count == 1 and not bots.model.invalid_requests
    assert [m.content for m in await bots.history(str(OWNER))] == [
        "then in writing",
        "echo: then in writing",
    ]
