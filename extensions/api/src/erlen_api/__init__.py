"""erlen-api: typed REST APIs for Erlen apps, as the plugin ``api``."""

from __future__ import annotations

from .api import Api, ApiDeclarationError, RouteOptions
from .conditional import check_if_match, etag_of
from .endpoint import UNSET, Endpoint, EndpointOptions, endpoint
from .openapi import generate as generate_spec
from .openapi import spec_of
from .params import Body, Path, Query
from .problems import (
    PROBLEM_MEDIA_TYPE,
    PROBLEM_TYPES,
    FieldError,
    Problem,
    ProblemDetails,
    ValidationProblemDetails,
    abort,
    problem_response,
)
from .resources import OPERATIONS, Resource
from .responses import ResponseValidationError
from .security import ApiUser, Identity, TokenIdentity, TokenRejected, current_identity
from .state import ApiState, state_of
from .stored_values import StoredValueError

__version__ = "0.1.0"

__all__ = [
    # declaring APIs
    "Api",
    "RouteOptions",
    "endpoint",
    "EndpointOptions",
    "Endpoint",
    "UNSET",
    "Query",
    "Body",
    "Path",
    # resources from models
    "Resource",
    "OPERATIONS",
    # errors
    "Problem",
    "abort",
    "problem_response",
    "ProblemDetails",
    "ValidationProblemDetails",
    "FieldError",
    "PROBLEM_MEDIA_TYPE",
    "PROBLEM_TYPES",
    "ApiDeclarationError",
    "ResponseValidationError",
    "StoredValueError",
    # conditional requests
    "check_if_match",
    "etag_of",
    # security
    "ApiUser",
    "Identity",
    "TokenIdentity",
    "TokenRejected",
    "current_identity",
    # the OpenAPI document and state
    "generate_spec",
    "spec_of",
    "ApiState",
    "state_of",
]
