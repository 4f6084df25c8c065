"""Who may use the bot (src/access.py), and how often strangers are told so."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from src.access import Access
from src.channels.telegram.access import RefusalThrottle
from src.config import DynamoDBStoreConfig, FileStoreConfig, StoreConfig
from src.store import create_storage
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
