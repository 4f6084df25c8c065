"""The config.yml sections of the assistant's capabilities beyond the chat itself: photos,
documents, spend limits, reminders, access, tool approval and its audit, memory, the admin
page. `Config` in schema.py holds them; every default keeps a feature off (or unlimited).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr


class Strict(BaseModel):
    """A config section: unknown keys are errors, values never change after loading."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class VisionConfig(Strict):
    """Photos and images for the model (src/vision/, src/channels/telegram/photos.py)."""

    enabled: bool = False  # config.yml turns it on; off: a photo gets a plain answer, no model call
    max_image_mb: float = Field(10, gt=0, le=20)  # the largest size within this is downloaded
    keep_turns: int = Field(2, ge=-1)  # sent in its turn and this many after; -1 = always
    detail: Literal["low", "high", "auto"] = "auto"


class DocumentsConfig(Strict):
    """Documents sent to the bot: their text goes into the turn (src/documents/)."""

    enabled: bool = False  # config.yml turns it on; off keeps older configs as they were
    # Extracted text per document (the rest is cut, with a note). The turn is stored with it:
    # at most 4 bytes a character keeps it well inside one DynamoDB item.
    max_chars: int = Field(20000, ge=100, le=80_000)


class LimitsConfig(Strict):
    """Spend and rate limits (src/limits/). 0 = unlimited; every default keeps them off."""

    messages_per_minute: int = Field(0, ge=0)  # per user, a token bucket
    over_rate: Literal["wait", "drop"] = "wait"  # the excess: answered after the wait, or not
    daily_tokens: int = Field(0, ge=0)  # per user, calendar day in tools.default_timezone
    monthly_tokens: int = Field(0, ge=0)
    daily_usd: float = Field(0, ge=0)
    monthly_usd: float = Field(0, ge=0)
    bot_monthly_usd: float = Field(0, ge=0)  # all users together; admins included
    warn_at: float = Field(0.8, ge=0, le=1)  # 0 = no warnings
    admins_exempt: bool = True  # admins skip the per-user limits and the rate limit


class SchedulerConfig(Strict):
    """Reminders and scheduled tasks (src/scheduler/)."""

    enabled: bool = False  # config.yml turns it on; off keeps older configs as they were
    max_per_user: int = Field(100, ge=1, le=10000)
    min_interval_s: float = Field(60, ge=60)  # the shortest allowed repeat


class AccessConfig(Strict):
    invite_ttl_s: int = Field(86400, ge=60)  # how long an /invite code works


class ApprovalConfig(Strict):
    """Asking before a tool runs (src/approval/; mcp.yml `confirm` says which tools ask)."""

    timeout_s: float = Field(120, ge=5, le=86400)  # no answer by then counts as Deny


class AuditConfig(Strict):
    """The record of every tool run (src/approval/audit.py)."""

    keep_arguments: bool = False  # false: only a sha256 of the arguments is kept
    retention_days: float = Field(90, gt=0)  # entries older than this are removed
    show: int = Field(20, ge=1, le=100)  # entries /audit shows


class MemoryConfig(Strict):
    """Long-term memory: facts each user asked the assistant to keep (src/memory/)."""

    enabled: bool = False  # config.yml turns it on; off keeps older configs as they were
    max_prompt_chars: int = Field(2000, ge=0)  # the block in the system message; 0 = none
    max_facts_per_user: int = Field(5000, ge=1, le=100_000)
    max_fact_chars: int = Field(500, ge=20, le=4000)  # a longer fact is refused
    in_groups: bool = False  # in groups: the speaking user's memory only, when on
    auto_extract: bool = False  # after each turn a cheap model call proposes facts
    refresh_s: float = Field(60, ge=0)  # DynamoDB: reread a user's facts after this long


class AdminConfig(Strict):
    """The admin web page on the health server (src/admin/). Its sign-in token is ADMIN_TOKEN
    from the environment, never a YAML value: the loader sets `token` (src/config/loader.py)."""

    enabled: bool = False
    path: str = Field("/admin", pattern=r"^(/[A-Za-z0-9_-]+)+$")  # e.g. /admin, /ops/admin
    session_ttl_s: int = Field(43200, ge=60, le=30 * 86400)  # a sign-in lasts this long
    _token: SecretStr = PrivateAttr(default_factory=lambda: SecretStr(""))

    @property
    def token(self) -> SecretStr:
        return self._token
