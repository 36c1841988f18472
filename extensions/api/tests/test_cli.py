"""erlen api spec."""

from __future__ import annotations

import json
import typing as t
from pathlib import Path

from openapi_spec_validator import validate


def test_spec_prints_the_document(cli_runner: t.Any) -> None:
    result = cli_runner.invoke(args=["api", "spec"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    validate(document)
    assert "/api/v1/items" in document["paths"]


def test_spec_writes_a_file(cli_runner: t.Any, tmp_path: Path) -> None:
    target = tmp_path / "openapi.json"
    result = cli_runner.invoke(args=["api", "spec", "--output", str(target)])
    assert result.exit_code == 0, result.output
    assert result.output == f"Wrote the OpenAPI document to {target}.\n"
    assert json.loads(target.read_text())["openapi"] == "3.1.0"
