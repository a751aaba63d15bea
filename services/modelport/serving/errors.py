"""The one error hierarchy of Modelport.

Everything that should reach a client as a specific gRPC status is a `ModelportError`.
The error interceptor (`modelport.serving.interceptors`) turns it into that status with
`google.rpc` details; any other exception becomes INTERNAL with a generic message and a
logged traceback. The table in the README lists each class with its status.
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc


@dataclass(frozen=True)
class FieldViolation:
    """One bad field of a request (`google.rpc.BadRequest.FieldViolation`)."""

    field: str
    description: str


class ModelportError(Exception):
    """Base of every error that maps to a gRPC status."""

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN
    retry_after_s: float | None = None
    """When set, the status carries `google.rpc.RetryInfo`: retrying after this long may
    succeed."""

    def __init__(self, message: str, *, code: grpc.StatusCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidArgument(ModelportError):
    """The request is malformed; `field` names the offending field (e.g. `inputs[3]`)."""

    code = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(self, field: str, description: str) -> None:
        super().__init__(f"{field}: {description}")
        self.violations = [FieldViolation(field, description)]


class NotFound(ModelportError):
    """The named model or version does not exist."""

    code = grpc.StatusCode.NOT_FOUND


class PermissionDenied(ModelportError):
    """The caller may not do this (a registrar registering an endpoint that is not its own,
    an endpoint outside the router's allow-list)."""

    code = grpc.StatusCode.PERMISSION_DENIED


class ModelNotReady(ModelportError):
    """The model exists but no copy of it can serve now (loading, failed, unloading). A
    model that is loading says when to retry (`retry_after_s`, sent as `RetryInfo`)."""

    code = grpc.StatusCode.UNAVAILABLE
    LOADING_RETRY_S = 1.0
    """The retry delay sent with calls for a model that is loading."""

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s

    @classmethod
    def loading(cls, what: str) -> ModelNotReady:
        """`<what> is loading; retry`, with a retry delay: the one answer, router and
        backends alike, for a model whose load has not finished."""
        return cls(f"{what} is loading; retry", retry_after_s=cls.LOADING_RETRY_S)


@dataclass
class QuotaViolation:
    """One exhausted quota (`google.rpc.QuotaFailure.Violation`)."""

    subject: str
    description: str


class ResourceExhausted(ModelportError):
    """Overload: a full queue or a spent quota. The caller may retry after `retry_after_s`."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED

    def __init__(
        self, message: str, *, subject: str = "", retry_after_s: float | None = None
    ) -> None:
        super().__init__(message)
        self.violations = [QuotaViolation(subject, message)] if subject else []
        self.retry_after_s = retry_after_s


class FailedPrecondition(ModelportError):
    """The system is not in a state to do this (e.g. unloading a model that is loading)."""

    code = grpc.StatusCode.FAILED_PRECONDITION


class Unavailable(ModelportError):
    """The server is shutting down or a dependency cannot be reached; retry elsewhere."""

    code = grpc.StatusCode.UNAVAILABLE


class DeadlineExceeded(ModelportError):
    """The call's deadline passed before it could be served (e.g. before the router reached
    a replica)."""

    code = grpc.StatusCode.DEADLINE_EXCEEDED


class Unimplemented(ModelportError):
    """This server does not serve that RPC (e.g. registry writes on a backend)."""

    code = grpc.StatusCode.UNIMPLEMENTED


class ConfigError(ModelportError):
    """A model's or the service's configuration cannot be honoured (unknown runtime, a bad
    runtime option, an unsupported pooling mode). Raised while starting or loading, never
    because of a request; a process that meets it at start exits non-zero with the reason."""

    code = grpc.StatusCode.FAILED_PRECONDITION
