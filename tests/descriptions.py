"""The steps' OpenAPI descriptions (each step folder's openapi.yaml), as the tests read them."""

import functools

import yaml

from tests.live import ROOT

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@functools.cache
def description(step_name: str) -> dict:
    return yaml.safe_load((ROOT / step_name / "openapi.yaml").read_text(encoding="utf-8"))


def operations(document: dict) -> dict[str, dict]:
    """Each operation by its label, such as "GET /api/users/{id}"."""
    return {
        f"{method.upper()} {path}": operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def resolve(document: dict, node: dict) -> dict:
    """The node itself, or the component that its $ref ("#/components/...") points to."""
    while "$ref" in node:
        pointer, node = node["$ref"], document
        for name in pointer.removeprefix("#/").split("/"):
            node = node[name]
    return node


def security_schemes(operation: dict) -> list[str]:
    """The schemes an operation accepts, in the order it lists them (each alone suffices)."""
    return [name for requirement in operation.get("security", []) for name in requirement]
