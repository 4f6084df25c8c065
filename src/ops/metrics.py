"""Prometheus metrics in the default registry, served by `GET /metrics` (src/ops/health.py).

Callers use the small `record_*` functions so the metric objects stay in one place. Label
values are bounded: outcomes are fixed words, tool names are registered tools only, model
names are the handful the config names, store operations are the interface's methods.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from prometheus_client import Counter, Histogram

# Turn outcomes a channel reports with `record_turn`.
TURN_OK = "ok"
TURN_MODEL_TIMEOUT = "model_timeout"
TURN_MODEL_ERROR = "model_error"
TURN_STORE_ERROR = "store_error"
TURN_FAILED = "failed"
TURN_OUTCOMES = (TURN_OK, TURN_MODEL_TIMEOUT, TURN_MODEL_ERROR, TURN_STORE_ERROR, TURN_FAILED)

# Tool call outcomes (`record_tool_call`).
TOOL_OK = "ok"
TOOL_ERROR = "error"  # the tool ran and reported an error the model can read
TOOL_INVALID_ARGUMENTS = "invalid_arguments"
TOOL_NOT_FOUND = "not_found"
TOOL_TIMEOUT = "timeout"
TOOL_CRASHED = "crashed"  # an unexpected exception (a bug or a broken peer)
UNKNOWN_TOOL = "unknown"  # the label for names the model made up (keeps the label set bounded)

# Answers to approval questions (`record_approval`): "always" is a call an earlier
# "Always for this tool in this chat" let through without asking.
APPROVAL_DECISIONS = ("approved", "always", "denied", "timed_out")

UPDATES_RECEIVED = Counter(
    "assistant_updates_received",
    "Telegram updates received by getUpdates.",
)
TURNS = Counter(
    "assistant_turns",
    "Finished turns (one user request answered), by outcome.",
    ["outcome"],
)
TURN_SECONDS = Histogram(
    "assistant_turn_duration_seconds",
    "Time from the start of a turn to its answer, tool calls included.",
    buckets=(0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300),
)
MODEL_TOKENS = Counter(
    "assistant_model_tokens",
    "Tokens the model endpoint reported, by model and type (input = prompt, output = completion).",
    ["model", "type"],
)
TOOL_CALLS = Counter(
    "assistant_tool_calls",
    "Tool calls the model made, by tool and outcome.",
    ["tool", "outcome"],
)
TOOL_SECONDS = Histogram(
    "assistant_tool_call_duration_seconds",
    "Time a tool call took, argument checks included, by tool.",
    ["tool"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
TOOL_APPROVALS = Counter(
    "assistant_tool_approvals",
    "Tool calls that needed the user's approval, by tool and answer "
    "(approved, always, denied, timed_out).",
    ["tool", "decision"],
)
STORE_SECONDS = Histogram(
    "assistant_store_operation_duration_seconds",
    "Latency of conversation store operations, by backend and operation.",
    ["backend", "operation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
STORE_ERRORS = Counter(
    "assistant_store_errors",
    "Conversation store operations that failed, by backend and operation.",
    ["backend", "operation"],
)
REFUSALS = Counter(
    "assistant_allowlist_refusals",
    "Messages from users not on the allowlist (refused without calling the model).",
)
LIMIT_REFUSALS = Counter(
    "assistant_limit_refusals",
    "Turns refused before any model call, by the spend or rate limit that refused them.",
    ["limit"],
)

for _outcome in TURN_OUTCOMES:  # every outcome shows up as 0 before it first happens
    TURNS.labels(_outcome)


def record_update(count: int = 1) -> None:
    """`count` updates arrived from Telegram (call once per getUpdates batch)."""
    if count > 0:
        UPDATES_RECEIVED.inc(count)


def record_refusal() -> None:
    """A user not on the allowlist sent something."""
    REFUSALS.inc()


def record_limit_refusal(limit: str) -> None:
    """A turn refused by a limit (limits.* key, or "messages_per_minute")."""
    LIMIT_REFUSALS.labels(limit).inc()


def record_turn(outcome: str, seconds: float) -> None:
    """A turn finished with `outcome` (one of TURN_OUTCOMES) after `seconds`."""
    if outcome not in TURN_OUTCOMES:
        outcome = TURN_FAILED
    TURNS.labels(outcome).inc()
    TURN_SECONDS.observe(max(seconds, 0.0))


def record_tokens(model: str, prompt_tokens: int, completion_tokens: int) -> None:
    """Usage of one model call."""
    name = model or "unknown"
    if prompt_tokens > 0:
        MODEL_TOKENS.labels(name, "input").inc(prompt_tokens)
    if completion_tokens > 0:
        MODEL_TOKENS.labels(name, "output").inc(completion_tokens)


def record_tool_call(tool: str, outcome: str, seconds: float | None = None) -> None:
    """One tool call (that took `seconds`); pass UNKNOWN_TOOL as `tool` for names that are
    not registered."""
    TOOL_CALLS.labels(tool, outcome).inc()
    if seconds is not None:
        TOOL_SECONDS.labels(tool).observe(max(seconds, 0.0))


@dataclass
class ToolStats:
    """What this process counted for one tool since it started (the admin page)."""

    calls: dict[str, int] = field(default_factory=dict)  # outcome -> count
    timed: int = 0
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    @property
    def mean_seconds(self) -> float | None:
        return self.seconds / self.timed if self.timed else None


def tool_stats() -> dict[str, ToolStats]:
    """Calls by outcome and time taken, per tool, read from the metrics above."""
    stats: dict[str, ToolStats] = {}
    for metric in TOOL_CALLS.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total"):
                entry = stats.setdefault(sample.labels["tool"], ToolStats())
                entry.calls[sample.labels["outcome"]] = int(sample.value)
    for metric in TOOL_SECONDS.collect():
        for sample in metric.samples:
            entry = stats.setdefault(sample.labels["tool"], ToolStats())
            if sample.name.endswith("_count"):
                entry.timed = int(sample.value)
            elif sample.name.endswith("_sum"):
                entry.seconds = float(sample.value)
    return stats


def record_approval(tool: str, decision: str) -> None:
    """A gated tool call was approved, let through by "always", denied, or timed out."""
    TOOL_APPROVALS.labels(tool, decision).inc()


def record_store_operation(backend: str, operation: str, seconds: float, ok: bool) -> None:
    _store_seconds(backend, operation).observe(seconds)
    if not ok:
        STORE_ERRORS.labels(backend, operation).inc()


@functools.lru_cache(maxsize=64)  # a few backends times the store's operations
def _store_seconds(backend: str, operation: str) -> Histogram:
    """The histogram child of one operation (found once: several per turn)."""
    return STORE_SECONDS.labels(backend, operation)
