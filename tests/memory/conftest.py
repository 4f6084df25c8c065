"""The records contract's `backend` fixture (file, moto, dynalite) for the memory tests."""

from tests.store.test_records_contract import backend  # noqa: F401
