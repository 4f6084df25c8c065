"""The boto3 DynamoDB client of one store, and the threads its calls run in.

boto3 is imported only here, in a worker thread, when a DynamoDB store opens. Every call runs
in a dedicated thread pool as large as botocore's connection pool, with adaptive retries
(throttling and 5xx are retried with backoff and a client-side rate limit). Errors become
`RequestError` (a ConversationError) with a short message; the AWS detail goes to the log.
"""

from __future__ import annotations

import functools
import logging
import threading
from typing import Any, TypeVar

from src.boto_threads import POOL_SIZE, ThreadedClient
from src.config import DynamoDBStoreConfig
from src.errors import ConversationError

logger = logging.getLogger(__name__)

T = TypeVar("T")

THROTTLING = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "LimitExceededException",
    }
)
# Codes the store handles itself (a taken key, a missing table at start-up, no TTL API).
_EXPECTED = frozenset(
    {
        "ConditionalCheckFailedException",
        "ResourceNotFoundException",
        "ResourceInUseException",
        "UnknownOperationException",
    }
)
_READS = frozenset({"get_item", "query", "scan", "batch_get_item"})
_WRITES = frozenset({"put_item", "update_item", "delete_item", "batch_write_item"})


class RequestError(ConversationError):
    """A DynamoDB request failed; `code` is the AWS error code ("" for connection errors)."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class Capacity:
    """Capacity units the store consumed (ReturnConsumedCapacity=TOTAL), for benchmarks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.read = 0.0
        self.write = 0.0

    def add(self, operation: str, consumed: Any) -> None:
        entries = consumed if isinstance(consumed, list) else [consumed]
        units = sum(float(e.get("CapacityUnits", 0.0)) for e in entries if isinstance(e, dict))
        with self._lock:
            if operation in _READS:
                self.read += units
            else:
                self.write += units

    def snapshot(self) -> tuple[float, float]:
        with self._lock:
            return self.read, self.write


class DynamoDBClient(ThreadedClient):
    thread_name = "dynamodb"

    def __init__(self, config: DynamoDBStoreConfig) -> None:
        super().__init__()
        self.config = config
        self.capacity = Capacity()

    async def call(self, operation: str, **params: Any) -> dict[str, Any]:
        return await self.run(functools.partial(self.call_sync, operation, **params))

    def call_sync(self, operation: str, **params: Any) -> dict[str, Any]:
        """One API call (in a worker thread). Raises RequestError."""
        from botocore.exceptions import BotoCoreError, ClientError

        if self._client is None:
            raise ConversationError("the DynamoDB store is not open")
        if operation in _READS or operation in _WRITES:
            params["ReturnConsumedCapacity"] = "TOTAL"
        try:
            response: dict[str, Any] = getattr(self._client, operation)(**params)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            level = logging.DEBUG if code in _EXPECTED else logging.WARNING
            logger.log(level, "store: DynamoDB %s failed: %s", operation, exc)
            raise RequestError(self._explain(operation, code), code) from exc
        except BotoCoreError as exc:
            logger.warning("store: DynamoDB %s failed: %s", operation, exc)
            raise RequestError(self._explain_local(operation, exc)) from exc
        if "ConsumedCapacity" in response:
            self.capacity.add(operation, response["ConsumedCapacity"])
        return response

    def _not_open(self) -> Exception:
        return ConversationError("the DynamoDB store is not open")

    def _make_client(self) -> Any:
        import boto3  # heavy: only when the DynamoDB store is configured, and off the loop
        from botocore.config import Config as BotoConfig

        settings = BotoConfig(
            retries={"mode": "adaptive", "total_max_attempts": self.config.max_attempts},
            max_pool_connections=POOL_SIZE,
            connect_timeout=self.config.timeout_s,
            read_timeout=self.config.timeout_s,
            tcp_keepalive=True,
        )
        # The endpoint comes from AWS_ENDPOINT_URL_DYNAMODB when set (boto3 reads it).
        session = boto3.session.Session()
        return session.client("dynamodb", region_name=self.config.region, config=settings)

    def _explain(self, operation: str, code: str) -> str:
        table = self.config.table
        if code in THROTTLING:
            tries = self.config.max_attempts
            return f"DynamoDB is throttling table {table} (still after {tries} tries)"
        if code == "ResourceNotFoundException":
            return f"DynamoDB table {table} does not exist"
        if code in ("AccessDeniedException", "UnrecognizedClientException"):
            return f"DynamoDB refused {operation} on table {table} ({code}): check the IAM policy"
        if code == "ConditionalCheckFailedException":
            return "a conditional write found the item changed"
        return f"DynamoDB {operation} on table {table} failed ({code or 'unknown error'})"

    def _explain_local(self, operation: str, exc: Exception) -> str:
        kind = type(exc).__name__
        if kind in ("NoCredentialsError", "PartialCredentialsError"):
            return "no AWS credentials found (environment, profile or instance role)"
        if kind in ("EndpointConnectionError", "ConnectTimeoutError", "ConnectionClosedError"):
            return "cannot reach DynamoDB"
        if kind == "ReadTimeoutError":
            return f"DynamoDB did not answer {operation} in {self.config.timeout_s:g} s"
        return f"DynamoDB {operation} failed ({kind})"
