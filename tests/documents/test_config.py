"""documents.* in config.yml: off when the key is absent, on in the repository's file."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from src.config import Config, DocumentsConfig, load_config
from tests.harness import ROOT


def test_documents_are_off_without_the_key_and_on_in_config_yml() -> None:
    assert DocumentsConfig() == DocumentsConfig(enabled=False, max_chars=20000)
    config = load_config(ROOT / "config.yml", env={"OPENAI_API_KEY": "sk-test"})
    assert config.documents == DocumentsConfig(enabled=True, max_chars=20000)
    assert Config.model_validate({"llm": {"api_key": "k"}}).documents.enabled is False


@pytest.mark.parametrize("chars", [99, 80_001])
def test_max_chars_stays_within_one_stored_item(chars: int) -> None:
    with pytest.raises(ValidationError):
        DocumentsConfig(max_chars=chars)
