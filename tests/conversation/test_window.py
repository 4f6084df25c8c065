"""The model's window of history, and ConversationManager on a real FileStore.

hypothesis is not installed in this project, so the property test draws its cases from a
seeded `random.Random`: every run checks the same 1,500 histories, and a failure names its seed.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from src.conversation import settings
from src.conversation.manager import INTERRUPTED, ConversationManager
from src.conversation.message import Message
from src.conversation.window import (
    drop_broken_tool_exchanges,
    estimate_tokens,
    select_window,
)
from src.store.file.conversations import FileStore
from src.store.records import RecordStore

# -- builders -----------------------------------------------------------------------------


def user(text: str = "hi") -> Message:
    return Message(role="user", content=text, created_at=1.0)


def answer(text: str = "ok") -> Message:
    return Message(role="assistant", content=text, created_at=1.0)


def call(*ids: str, text: str | None = None) -> Message:
    calls = [
        {"id": i, "type": "function", "function": {"name": "lookup", "arguments": "{}"}}
        for i in ids
    ]
    return Message(role="assistant", content=text, tool_calls=calls, created_at=1.0)


def result(call_id: str, text: str = "42") -> Message:
    return Message(role="tool", content=text, tool_call_id=call_id, created_at=1.0)


def cost(messages: list[Message]) -> int:
    return sum(estimate_tokens(m) for m in messages)


# -- the rules ------------------------------------------------------------------------------


def problems(window: list[Message]) -> list[str]:
    """Every way `window` breaks the rules of a request the Chat Completions API accepts."""
    found = []
    if window and window[0].role != "user":
        found.append(f"starts with {window[0].role}")
    wanted: set[str] | None = None  # ids of the tool calls whose results come next
    answered: set[str] = set()
    for index, message in enumerate(window):
        if message.role == "tool":
            if wanted is None or message.tool_call_id not in wanted - answered:
                found.append(f"tool result {message.tool_call_id} at {index} without its call")
            else:
                answered.add(str(message.tool_call_id))
            continue
        if wanted is not None and wanted != answered:
            found.append(f"tool calls {sorted(wanted - answered)} without results")
        wanted, answered = None, set()
        if message.role == "assistant" and message.tool_calls:
            wanted = set(message.tool_call_ids)
    if wanted is not None and wanted != answered:
        found.append(f"tool calls {sorted(wanted - answered)} without results at the end")
    return found


def turns(messages: list[Message]) -> list[list[Message]]:
    starts = [i for i, m in enumerate(messages) if m.role == "user"]
    ends = [*starts[1:], len(messages)]
    return [messages[a:b] for a, b in zip(starts, ends, strict=True)] if starts else []


def view(messages: list[Message]) -> list[tuple[object, ...]]:
    """What the model sees of each message (the window may rebuild a message anew)."""
    return [(m.role, m.content, m.tool_call_id, tuple(m.tool_call_ids)) for m in messages]


def check_window(
    history: list[Message], max_messages: int, max_tokens: int, reserved: int
) -> list[Message]:
    window = select_window(history, max_messages, max_tokens, reserved)
    assert problems(window) == []
    start = max(0, len(history) - max_messages)
    if not any(m.role == "user" for m in history[start:]):
        # the newest turn alone is longer than max_messages: it is kept whole from its question
        users = [i for i, m in enumerate(history[:start]) if m.role == "user"]
        start = users[-1] if users else start
    else:
        assert len(window) <= max_messages
    considered = drop_broken_tool_exchanges(history[start:])
    tail = considered[len(considered) - len(window) :]
    assert view(window) == view(tail), "not a tail of the history"
    whole = [view(turn) for turn in turns(considered)]
    if not whole:
        assert window == []
        return window
    kept = [view(turn) for turn in turns(window)]
    assert kept and kept[-1] == whole[-1], "the newest turn was not kept"
    assert kept == whole[len(whole) - len(kept) :], "turns were cut, not dropped whole"
    if len(kept) > 1:
        assert cost(window) + reserved <= max_tokens, "over budget with turns left to drop"
    if len(kept) < len(whole):
        previous = turns(considered)[len(whole) - len(kept) - 1]
        assert cost(previous + window) + reserved > max_tokens, "dropped a turn that fitted"
    return window


# -- select_window and drop_broken_tool_exchanges, case by case -----------------------------


def test_a_plain_history_is_kept_whole() -> None:
    history = [user("a"), answer("b"), user("c"), answer("d")]
    assert check_window(history, 100, 10_000, 0) == history


def test_a_complete_tool_exchange_is_kept() -> None:
    history = [user(), call("x", "y"), result("y"), result("x"), answer()]
    assert check_window(history, 100, 10_000, 0) == history


def test_the_window_starts_at_a_user_message() -> None:
    history = [result("x"), answer("left over"), call("z"), user("q"), answer("a")]
    assert check_window(history, 100, 10_000, 0) == [user("q"), answer("a")]


def test_a_call_without_all_its_results_is_dropped() -> None:
    history = [user("q"), call("x", "y"), result("x"), user("again"), answer("a")]
    assert check_window(history, 100, 10_000, 0) == [user("q"), user("again"), answer("a")]


def test_the_text_of_an_unanswered_call_survives() -> None:
    history = [user("q"), call("x", text="Let me look."), user("again")]
    window = check_window(history, 100, 10_000, 0)
    assert view(window) == view([user("q"), answer("Let me look."), user("again")])


def test_a_result_without_its_call_is_dropped() -> None:
    history = [user("q"), result("ghost"), answer("a"), call("x"), result("x"), result("ghost")]
    window = check_window(history, 100, 10_000, 0)
    assert window == [user("q"), answer("a"), call("x"), result("x")]


def test_max_messages_cutting_an_exchange_drops_its_remains() -> None:
    history = [user("old"), call("x"), result("x"), answer("a"), user("new"), answer("b")]
    assert check_window(history, 4, 10_000, 0) == [user("new"), answer("b")]
    assert check_window(history, 5, 10_000, 0) == [user("new"), answer("b")]
    assert check_window(history, 6, 10_000, 0) == history


def test_the_token_budget_drops_whole_turns_from_the_oldest_end() -> None:
    history = [user("a" * 400), answer("b" * 400), user("c"), call("x"), result("x", "r" * 400)]
    history += [answer("d"), user("e"), answer("f")]
    all_turns = turns(history)
    newest_two = all_turns[1] + all_turns[2]
    budget = cost(newest_two)
    assert check_window(history, 100, budget, 0) == newest_two
    assert check_window(history, 100, budget - 1, 0) == all_turns[2]
    assert check_window(history, 100, cost(history), 0) == history
    assert check_window(history, 100, cost(history), 1) == newest_two  # reserved counts


def test_the_newest_turn_is_kept_even_over_budget() -> None:
    history = [user("a"), answer("b"), user("x" * 4000), call("c"), result("c", "y" * 4000)]
    assert check_window(history, 100, 10, 0) == history[2:]


def test_no_user_message_means_an_empty_window() -> None:
    assert check_window([answer("a"), call("x"), result("x")], 100, 10_000, 0) == []
    assert check_window([], 100, 10_000, 0) == []


def test_a_turn_longer_than_max_messages_keeps_its_question() -> None:
    history = [user("question")]
    for i in range(6):
        history += [call(f"c{i}"), result(f"c{i}")]
    window = select_window(history, 10, 10_000)
    assert window and window[0] == user("question")


# -- the same rules over random histories ---------------------------------------------------


def random_history(rnd: random.Random) -> list[Message]:
    messages: list[Message] = []
    serial = 0

    def text() -> str:
        return "w" * rnd.choice([0, 1, 10, 100, 1000])

    if rnd.random() < 0.2:  # history that begins mid-turn
        messages += rnd.choice([[answer()], [result("early")], [call("early")]])
    for _ in range(rnd.randint(0, 8)):
        messages.append(user(text()))
        for _ in range(rnd.choice([0, 0, 1, 1, 2, 3])):
            ids = [f"call_{serial + k}" for k in range(rnd.randint(1, 3))]
            serial += len(ids)
            messages.append(call(*ids, text=rnd.choice([None, "", "checking"])))
            cut_short = rnd.random() < 0.25
            results = rnd.sample(ids, rnd.randint(0, len(ids) - 1)) if cut_short else ids[:]
            rnd.shuffle(results)
            messages += [result(i, text()) for i in results]
            if cut_short and rnd.random() < 0.5:
                break
        if rnd.random() < 0.1:
            messages.append(result(f"ghost_{serial}"))
        if rnd.random() < 0.8:
            messages.append(answer(text()))
    return messages


@pytest.mark.parametrize("block", range(5))
def test_random_histories_give_valid_windows(block: int) -> None:
    for seed in range(block * 300, (block + 1) * 300):
        rnd = random.Random(seed)
        history = random_history(rnd)
        max_messages = rnd.choice([1, 2, 3, 5, 8, 20, 200])
        max_tokens = rnd.choice([0, 10, 50, 200, 1000, 100_000])
        reserved = rnd.choice([0, 0, 5, 100])
        try:
            check_window(history, max_messages, max_tokens, reserved)
            cleaned = drop_broken_tool_exchanges(history)
            assert [p for p in problems(cleaned) if not p.startswith("starts")] == []
            assert [m for m in cleaned if m.role == "user"] == [
                m for m in history if m.role == "user"
            ]
            assert view(drop_broken_tool_exchanges(cleaned)) == view(cleaned)
        except AssertionError as exc:
            raise AssertionError(f"seed {seed}: {exc}") from exc


# -- ConversationManager on a FileStore -----------------------------------------------------


def history_lines(store: FileStore) -> list[bytes]:
    (path,) = store.directory.glob("*.jsonl")
    return path.read_bytes().splitlines()


async def test_add_appends_lines_without_rewriting(store: FileStore, records: RecordStore) -> None:
    manager = ConversationManager("c", store, records)
    await manager.add(user("one"))
    first = b"\n".join(history_lines(store))
    await manager.add(answer("two"), user("three"))
    await manager.add(answer("four"))
    lines = history_lines(store)
    assert len(lines) == 1 + 4  # the header and one line per message
    assert b"\n".join(lines).startswith(first)
    assert [m.content for m in await store.load_recent("c", None)] == [
        "one",
        "two",
        "three",
        "four",
    ]


async def test_a_staged_request_is_stored_with_the_first_answer(
    store: FileStore, records: RecordStore
) -> None:
    manager = ConversationManager("c", store, records)
    await manager.add(user("one"), answer("two"))
    await manager.stage(user("three"))
    assert [m.content for m in await manager.recent()][-1] == "three"  # in the window now
    assert len(await store.load_recent("c", None)) == 2  # not stored yet
    await manager.add(answer("four"))
    assert [m.content for m in await store.load_recent("c", None)] == [
        "one",
        "two",
        "three",
        "four",
    ]
    await manager.flush()  # nothing staged: no write
    assert len(history_lines(store)) == 1 + 4


async def test_flush_stores_a_request_that_got_no_answer(
    store: FileStore, records: RecordStore
) -> None:
    manager = ConversationManager("c", store, records)
    await manager.stage(user("asked while the model was down"))
    await manager.flush()
    fresh = ConversationManager("c", store, records)
    assert [m.content for m in await fresh.recent()] == ["asked while the model was down"]


async def test_history_is_loaded_on_first_use_not_before(
    tmp_path: Path, records: RecordStore
) -> None:
    store = FileStore(tmp_path / "later")
    manager = ConversationManager("c", store, records)  # the directory does not exist yet
    assert not (tmp_path / "later").exists()

    await store.open()
    await store.append_messages("c", [user("written"), answer("before use")])
    await manager.add(user("added"))

    assert await manager.recent() == [user("written"), answer("before use"), user("added")]
    assert await store.load_recent("c", None) == await manager.recent()


async def test_recent_keeps_at_most_max_history_messages(
    store: FileStore, records: RecordStore
) -> None:
    manager = ConversationManager("c", store, records, max_history_messages=3)
    for i in range(5):
        await manager.add(user(f"m{i}"))
    # a manager lives for one turn: it keeps what it added, and loads only the tail
    assert len(await manager.recent()) == 5
    assert len(await store.load_recent("c", None)) == 5
    fresh = ConversationManager("c", store, records, max_history_messages=3)
    assert [m.content for m in await fresh.recent()] == ["m2", "m3", "m4"]


async def test_window_puts_the_system_prompt_first(store: FileStore, records: RecordStore) -> None:
    manager = ConversationManager("c", store, records)
    await manager.add(result("stray"), user("hi"), call("x"), result("x"), answer("done"))
    window = await manager.window("Be brief.")
    assert window == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
        call("x").to_api(),
        {"role": "tool", "content": "42", "tool_call_id": "x"},
        {"role": "assistant", "content": "done"},
    ]


async def test_repair_answers_dangling_tool_calls(store: FileStore, records: RecordStore) -> None:
    await store.append_messages("c", [user("q"), call("a", "b", "c"), result("b")])
    manager = ConversationManager("c", store, records)  # after a restart
    assert await manager.repair() == 2

    stored = await store.load_recent("c", None)
    assert problems(stored) == []
    assert drop_broken_tool_exchanges(stored) == stored
    placeholders = stored[3:]
    assert [(m.role, m.tool_call_id, m.content) for m in placeholders] == [
        ("tool", "a", INTERRUPTED),
        ("tool", "c", INTERRUPTED),
    ]
    assert select_window(stored, 200, 12_000) == stored

    lines = len(history_lines(store))
    assert await manager.repair() == 0  # nothing left to close
    assert await ConversationManager("c", store, records).repair() == 0
    assert len(history_lines(store)) == lines


async def test_repair_leaves_a_finished_history_alone(
    store: FileStore, records: RecordStore
) -> None:
    manager = ConversationManager("c", store, records)
    assert await manager.repair() == 0
    await manager.add(user("q"), call("a"), result("a"), answer("done"))
    assert await manager.repair() == 0
    await manager.add(user("q2"))
    assert await manager.repair() == 0
    assert len(await store.load_recent("c", None)) == 5


async def test_reset_empties_the_conversation(store: FileStore, records: RecordStore) -> None:
    manager = ConversationManager("c", store, records)
    await manager.add(user("q"), answer("a"))
    await settings.change(records, "c", lambda data: data.update(agent="assistant"))
    await manager.reset()
    assert await manager.recent() == []
    assert await manager.window("sys") == [{"role": "system", "content": "sys"}]
    assert await store.load_recent("c", None) == []
    assert await settings.load(records, "c") == {}
    assert await ConversationManager("c", store, records).recent() == []
    await manager.add(user("fresh"))
    assert [m.content for m in await store.load_recent("c", None)] == ["fresh"]
