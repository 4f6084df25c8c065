"""Who may use the bot (src/access.py), invitations (src/invites.py), and how often
strangers are told so."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from src.access import Access
from src.channels.telegram.access import RefusalThrottle
from src.config import DynamoDBStoreConfig, FileStoreConfig, StoreConfig
from src.errors import UserInputError
from src.invites import KIND as INVITE
from src.invites import NOT_VALID, Invitation, Invites
from src.store import create_storage
from src.store.file.records import SQLiteRecords
from src.store.records import Record, RecordStore
from tests.clock import TestClock
from tests.peers.dynamodb import shared_endpoint, use_endpoint


def test_admins_are_allowed_and_strangers_are_not() -> None:
    access = Access(allowed=[1, 2], admins=[9])
    assert access.is_allowed(1) and access.is_allowed(9)
    assert not access.is_allowed(3)
    assert access.is_admin(9) and not access.is_admin(1)
    assert not Access([], []).is_allowed(1)  # an empty list lets nobody in


def test_a_stranger_is_told_once_per_interval() -> None:
    now = [0.0]
    throttle = RefusalThrottle(interval_s=600, clock=lambda: now[0])
    assert throttle.should_tell(5)
    now[0] = 599.0
    assert not throttle.should_tell(5)
    assert throttle.should_tell(6)  # per user
    now[0] = 600.0
    assert throttle.should_tell(5)


@pytest.fixture(params=["file", "moto", "dynalite"])
def storage_config(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> StoreConfig:
    if request.param == "file":
        return StoreConfig(file=FileStoreConfig(directory=str(tmp_path / "store"), fsync=False))
    use_endpoint(monkeypatch, shared_endpoint(request.param))
    table = DynamoDBStoreConfig(table=f"access-{uuid.uuid4().hex[:12]}", create_table=True)
    return StoreConfig(type="dynamodb", dynamodb=table)


async def test_users_added_at_run_time_are_kept_in_the_records(
    storage_config: StoreConfig,
) -> None:
    first = create_storage(storage_config)
    await first.open()
    try:
        access = Access(allowed=[1], admins=[9], records=first.records)
        await access.load()
        assert not access.is_allowed(5)
        await access.allow(5, by=9, at=1000.0)
        await access.allow(6, by=9, at=1001.0)
        assert access.is_allowed(5) and access.is_allowed(6)
        assert await access.deny(6) is True
        assert await access.deny(1) is False  # config.yml's list is the floor
        assert access.is_allowed(1) and not access.is_allowed(6)
    finally:
        await first.close()
    restarted = create_storage(storage_config)
    await restarted.open()
    try:
        again = Access(allowed=[1], admins=[9], records=restarted.records)
        assert not again.is_allowed(5)  # not read yet
        await again.load()
        assert again.is_allowed(5) and not again.is_allowed(6) and again.is_allowed(1)
        assert again.added() == {5: {"by": 9, "at": 1000.0}}
        assert not again.is_admin(5)
    finally:
        await restarted.close()


# -- invitations (src/invites.py) ---------------------------------------------------------


async def test_two_redeemers_of_one_code_at_once_exactly_one_wins(
    storage_config: StoreConfig,
) -> None:
    """Two stores on one backend (as two bot processes would be) and two redeemers on each:
    of four who send the code at the same moment, one gets in."""
    clock = TestClock()
    stores = [create_storage(storage_config), create_storage(storage_config)]
    for storage in stores:
        await storage.open()
    try:
        accesses = [
            Access([], [9], storage.records, invite_ttl_s=3600, clock=clock) for storage in stores
        ]
        invitation = await accesses[0].invite(by=9)
        assert invitation.expires_at == clock.time() + 3600
        results = await asyncio.gather(
            *(
                accesses[n % 2].redeem(invitation.code, user_id=100 + n, name=f"user {n}")
                for n in range(4)
            ),
            return_exceptions=True,
        )
        winners = [n for n, result in enumerate(results) if isinstance(result, Invitation)]
        assert len(winners) == 1, results
        losers = [result for result in results if not isinstance(result, Invitation)]
        assert all(isinstance(e, UserInputError) and str(e) == NOT_VALID for e in losers)
        assert results[winners[0]] == invitation
        fresh = Access([], [9], stores[1].records)
        await fresh.load()
        assert fresh.added() == {
            100 + winners[0]: {"by": 9, "at": clock.time(), "name": f"user {winners[0]}"}
        }
        spent = await stores[0].records.get(INVITE, invitation.code)
        assert spent is not None and spent.data["used_by"] == 100 + winners[0]
    finally:
        for storage in stores:
            await storage.close()


async def test_an_invitation_works_once_until_it_expires_then_it_is_cleared(
    records: SQLiteRecords,
) -> None:
    clock = TestClock()
    invites = Invites(records, ttl_s=600, clock=clock)
    kept, lapsed = await invites.create(by=9), await invites.create(by=None)
    assert (await records.get(INVITE, kept.code)) is not None
    await clock.advance(599)
    assert (await invites.take(kept.code, 5)).by == 9
    with pytest.raises(UserInputError, match="not valid or has expired"):
        await invites.take(kept.code, 6)  # used
    assert (await invites.take(kept.code, 5)).code == kept.code  # its user may retry
    await clock.advance(1)
    with pytest.raises(UserInputError, match="not valid or has expired"):
        await invites.take(lapsed.code, 6)  # expired

    expired = await records.find(INVITE, due_before=clock.time())
    assert sorted(r.key for r in expired) == sorted([kept.code, lapsed.code])
    fresh = await invites.create(by=9)  # a new code clears the used and expired ones
    assert await records.find(INVITE, due_before=clock.time()) == []
    assert await records.get(INVITE, kept.code) is None
    assert (await records.get(INVITE, fresh.code)) is not None


@pytest.mark.parametrize("code", ["", "x" * 65, "a b", "../etc", "ünïcode", "code\n"])
async def test_a_malformed_code_is_refused_without_a_read(code: str) -> None:
    class Unreadable(RecordStore):
        async def get(self, kind: str, key: str) -> Record | None:
            raise AssertionError("read")

        put = delete = find = get  # type: ignore[assignment]

    with pytest.raises(UserInputError, match="not valid or has expired"):
        await Invites(Unreadable(), ttl_s=60).take(code, 5)
