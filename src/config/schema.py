"""The schema of config.yml: one frozen pydantic model per section, defaults included (the
sections of the capabilities beyond the chat itself are in features.py).

Nothing here reads a file or the environment; src/config/loader.py does, and validates what it
read against `Config`.
"""

from __future__ import annotations

import re
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic import model_validator as _model_validator

from src.config.features import (
    AccessConfig,
    AdminConfig,
    ApprovalConfig,
    AuditConfig,
    DocumentsConfig,
    LimitsConfig,
    MemoryConfig,
    SchedulerConfig,
    VisionConfig,
)
from src.config.features import Strict as _Strict

_AGENT_NAME = re.compile(r"^[a-z0-9_-]{1,40}$")


class WebhookConfig(_Strict):
    """`telegram.webhook`: where Telegram posts updates in `mode: webhook`."""

    url: str = ""  # the public https URL; setWebhook at start-up when not empty
    path: str = Field("/telegram/webhook", pattern=r"^/[A-Za-z0-9/_.-]*$")  # on the health server
    secret_token: SecretStr = SecretStr("")  # X-Telegram-Bot-Api-Secret-Token, from the env

    @field_validator("secret_token")
    @classmethod
    def _token_chars(cls, value: SecretStr) -> SecretStr:
        if not re.fullmatch(r"[A-Za-z0-9_-]{0,256}", value.get_secret_value()):
            raise ValueError("1-256 characters A-Z, a-z, 0-9, _ and - (Telegram's rule)")
        return value


class TelegramConfig(_Strict):
    mode: Literal["polling", "webhook"] = "polling"
    webhook: WebhookConfig = WebhookConfig()
    bot_token: SecretStr = SecretStr("")
    api_base_url: str = "https://api.telegram.org"
    allowed_user_ids: list[int] = Field(default_factory=list)
    admin_user_ids: list[int] = Field(default_factory=list)
    poll_timeout_s: int = Field(30, ge=0, le=50)
    max_concurrent_turns: int = Field(64, ge=1, le=1000)
    max_messages_per_second: float = Field(30, gt=0)  # Telegram's global limit for a bot
    typing_interval_s: float = Field(4.0, gt=0)
    streaming: bool = True
    use_drafts: bool = True
    stream_edit_interval: float = Field(1.0, ge=0.2)
    group_edit_interval: float = Field(4.0, ge=1.0)
    group_mode: Literal["mention", "all", "off"] = "mention"


class ModelPricing(_Strict):
    """`llm.models` entry: what one model costs, in US dollars. Chat models by the million
    tokens; transcription by the minute of audio; speech by the million characters."""

    input_usd_per_mtok: float = Field(0, ge=0)
    cached_input_usd_per_mtok: float | None = Field(None, ge=0)  # default: the input price
    output_usd_per_mtok: float = Field(0, ge=0)
    usd_per_audio_minute: float = Field(0, ge=0)  # transcription (whisper-1: 0.006)
    usd_per_mchars: float = Field(0, ge=0)  # speech (tts-1: 15)


class LLMConfig(_Strict):
    base_url: str = "https://api.openai.com/v1"
    api_key: SecretStr
    model: str = "gpt-4o-mini"
    timeout_s: float = Field(60, gt=0)
    max_retries: int = Field(2, ge=0, le=10)
    temperature: float | None = Field(None, ge=0, le=2)
    max_output_tokens: int | None = Field(None, ge=1)
    # The models a chat may pick with /model, and the price table every model call is
    # counted with (a dated name the endpoint reports uses its prefix's price).
    models: dict[str, ModelPricing] = Field(default_factory=dict)


class FileStoreConfig(_Strict):
    directory: str = "./data/conversations"
    fsync: bool = True


class DynamoDBStoreConfig(_Strict):
    table: str = Field("assistant-conversations", pattern=r"^[A-Za-z0-9_.-]{3,255}$")
    region: str = "us-east-1"
    create_table: bool = False
    ttl_days: int = Field(0, ge=0)
    max_attempts: int = Field(5, ge=1, le=20)  # botocore's adaptive retries, first try included
    timeout_s: float = Field(10, gt=0)  # connect and read timeout of one request


class StoreConfig(_Strict):
    type: Literal["file", "dynamodb"] = "file"
    file: FileStoreConfig = FileStoreConfig()
    dynamodb: DynamoDBStoreConfig = DynamoDBStoreConfig()


class SQSQueueConfig(_Strict):
    url: str = ""  # a FIFO queue (.fifo); AWS_ENDPOINT_URL_SQS is boto3's own variable
    max_receives: int = Field(5, ge=1, le=1000)  # the DLQ redrive's maxReceiveCount (--check)
    visibility_timeout_s: int = Field(300, ge=2, le=43200)  # longer than the longest turn
    receive_wait_s: int = Field(20, ge=0, le=20)  # ReceiveMessage long poll


class QueueConfig(_Strict):
    """Where accepted updates wait: `local` is the durable inbox of one process; `sqs` an SQS
    FIFO queue that several replicas consume (DESIGN.md "Webhook and replicas")."""

    type: Literal["local", "sqs"] = "local"
    sqs: SQSQueueConfig = SQSQueueConfig()


class CompactionConfig(_Strict):
    """How history that no longer fits is summarised (src/conversation/compaction.py)."""

    enabled: bool = True  # false: the oldest turns are dropped instead of summarised
    model: str | None = None  # the summariser (a cheaper model is fine); default llm.model
    keep_fraction: float = Field(0.5, gt=0.05, lt=1)  # share of the budget kept verbatim
    summary_tokens: int = Field(600, ge=50, le=8000)  # a summary's target length
    timeout_s: float = Field(30, gt=0)  # one summary; slower counts as a failure
    retry_after_s: float = Field(60, ge=0)  # after a failure, drop old turns this long


class ConversationConfig(_Strict):
    max_context_tokens: int = Field(12000, ge=500)
    max_history_messages: int = Field(200, ge=2)
    compaction: CompactionConfig = CompactionConfig()


class HealthConfig(_Strict):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)


class VoiceConfig(_Strict):
    enabled: bool = True
    model: str = "whisper-1"
    base_url: str | None = None  # default: llm.base_url
    api_key: SecretStr | None = None  # default: llm.api_key
    language: str | None = None  # ISO-639-1 hint for transcription, e.g. "en"
    upload_format: Literal["auto", "original", "wav"] = "auto"
    max_duration_s: int = Field(600, ge=1)
    max_file_mb: float = Field(20, gt=0, le=2000)
    echo_transcript: bool = True
    reply_with_voice: Literal["never", "auto", "always"] = "never"
    tts_model: str = "tts-1"
    tts_voice: str = "alloy"
    max_tts_chars: int = Field(4000, ge=1)
    timeout_s: float = Field(120, gt=0)


class ToolsConfig(_Strict):
    default_timezone: str = "UTC"
    max_result_chars: int = Field(16000, ge=100)

    @field_validator("default_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class AgentConfig(_Strict):
    name: str
    description: str = ""
    system_prompt: str = "You are a helpful personal assistant."
    model: str | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    tools: list[str] = Field(default_factory=lambda: ["*"])

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not _AGENT_NAME.match(value):
            raise ValueError("must be 1-40 characters of a-z, 0-9, _ or -")
        if value == "auto":
            raise ValueError("'auto' is reserved (/agent auto unpins)")
        return value


class ClassifierConfig(_Strict):
    """`routing: classify`: keyword shortcuts first, else a cheap model picks the agent."""

    model: str | None = None  # default llm.model
    timeout_s: float = Field(10, gt=0)
    keywords: dict[str, list[str]] = Field(default_factory=dict)  # agent -> words


class ModelPrice(_Strict):
    """Price of one model in currency units per million tokens."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)


class AgentsConfig(_Strict):
    routing: Literal["single", "delegate", "classify"] = "single"
    default: str = "assistant"
    max_tool_rounds: int = Field(8, ge=1, le=50)
    max_delegation_depth: int = Field(1, ge=1, le=4)  # ask_<agent> calls nested at most this deep
    delegation_timeout_s: float = Field(300, gt=0)  # one delegated sub-task, tools included
    classifier: ClassifierConfig = ClassifierConfig()
    prices: dict[str, ModelPrice] = Field(default_factory=dict)  # model -> price for /usage
    currency: str = Field("$", max_length=8)
    list: tuple[AgentConfig, ...] = (AgentConfig(name="assistant"),)

    @_model_validator(mode="after")
    def _default_exists(self) -> AgentsConfig:
        names = [agent.name for agent in self.list]
        if len(set(names)) != len(names):
            raise ValueError("agent names must be unique")
        if self.default not in names:
            raise ValueError(f"default agent {self.default!r} is not in agents.list")
        for name in self.classifier.keywords:
            if name not in names:
                raise ValueError(f"classifier.keywords names an unknown agent {name!r}")
        return self

    def get(self, name: str) -> AgentConfig:
        for agent in self.list:
            if agent.name == name:
                return agent
        raise KeyError(name)


class Config(_Strict):
    telegram: TelegramConfig = TelegramConfig()
    llm: LLMConfig
    store: StoreConfig = StoreConfig()
    queue: QueueConfig = QueueConfig()
    conversation: ConversationConfig = ConversationConfig()
    health: HealthConfig = HealthConfig()
    voice: VoiceConfig = VoiceConfig()
    vision: VisionConfig = VisionConfig()
    documents: DocumentsConfig = DocumentsConfig()
    tools: ToolsConfig = ToolsConfig()
    agents: AgentsConfig = AgentsConfig()
    limits: LimitsConfig = LimitsConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    access: AccessConfig = AccessConfig()
    approval: ApprovalConfig = ApprovalConfig()
    audit: AuditConfig = AuditConfig()
    memory: MemoryConfig = MemoryConfig()
    admin: AdminConfig = AdminConfig()

    @_model_validator(mode="after")
    def _replicas(self) -> Config:
        """What webhook mode and the shared queue need (DESIGN.md "Webhook and replicas")."""
        webhook = self.telegram.mode == "webhook"
        if webhook and not self.telegram.webhook.secret_token.get_secret_value():
            raise ValueError(
                "telegram.mode: webhook needs telegram.webhook.secret_token "
                "(set TELEGRAM_WEBHOOK_SECRET)"
            )
        if webhook and not self.health.enabled:
            raise ValueError("telegram.mode: webhook needs health.enabled (the server it uses)")
        if self.queue.type == "sqs":
            if self.store.type != "dynamodb":
                raise ValueError(
                    "queue.type: sqs needs store.type: dynamodb (replicas cannot share files)"
                )
            if not webhook:
                raise ValueError("queue.type: sqs needs telegram.mode: webhook")
            if not self.queue.sqs.url.endswith(".fifo"):
                raise ValueError("queue.sqs.url must be the URL of a FIFO queue (ending in .fifo)")
        return self
