"""The sandbox's description of the current Langfuse API (the 4.16 spec with
`spec/langfuse-current.yml` merged over it) against the generated API client of the installed
official SDK: every field of every type both name, every operation and query parameter. A newer
SDK pin that changes the API fails here and names the change."""

import importlib
import inspect
import pkgutil
import re
import typing
from pathlib import Path

import yaml

import langfuse.api
from langfuse.api.core.pydantic_utilities import UniversalBaseModel
from langfuse.api.core.serialization import FieldMetadata

SPEC_DIR = Path(__file__).resolve().parents[2] / "src-tauri" / "crates" / "sandbox" / "spec"


def merge_patch(target, patch):
    """JSON Merge Patch (RFC 7396)."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def current_api():
    spec = yaml.safe_load((SPEC_DIR / "langfuse-openapi.yml").read_text())
    overlay = yaml.safe_load((SPEC_DIR / "langfuse-current.yml").read_text())
    sdk_only = set(overlay.pop("x-sdk-only", []))
    return merge_patch(spec, overlay), sdk_only


def properties(schemas, name):
    """A schema's property names, through `allOf`."""
    s = schemas[name]
    out = set(s.get("properties", {}))
    for part in s.get("allOf", []):
        if "$ref" in part:
            out |= properties(schemas, part["$ref"].rsplit("/", 1)[-1])
        else:
            out |= set(part.get("properties", {}))
    return out


def sdk_models():
    models = {}
    for m in pkgutil.walk_packages(langfuse.api.__path__, "langfuse.api."):
        mod = importlib.import_module(m.name)
        for name, cls in inspect.getmembers(mod, inspect.isclass):
            if issubclass(cls, UniversalBaseModel) and cls.__module__ == mod.__name__:
                models[name] = cls
    return models


def wire_names(cls):
    hints = typing.get_type_hints(cls, include_extras=True)
    names = set()
    for field in cls.model_fields:
        alias = field
        for md in getattr(hints.get(field), "__metadata__", ()):
            if isinstance(md, FieldMetadata):
                alias = md.alias
        names.add(alias)
    return names


def sdk_operations():
    """(METHOD, path template, query parameter names) of every raw client method."""
    ops = []
    for m in pkgutil.walk_packages(langfuse.api.__path__, "langfuse.api."):
        if not m.name.endswith(".raw_client"):
            continue
        src = inspect.getsource(importlib.import_module(m.name)).split("class AsyncRaw")[0]
        for chunk in re.split(r"\n    def ", src)[1:]:
            call = re.search(r'request\(\s*f?"([^"]+)",(.*?)request_options=request_options', chunk, re.S)
            if not call:
                continue
            path = "/" + re.sub(r"\{jsonable_encoder\((\w+)\)\}", r"{\1}", call.group(1))
            method = re.search(r'method="(\w+)"', call.group(2)).group(1)
            params = re.search(r"params=\{(.*?)\n            \}", call.group(2), re.S)
            query = set(re.findall(r'^\s+"(\w+)":', params.group(1), re.M)) if params else set()
            ops.append((method, path, query))
    return ops


def template(path):
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_every_type_both_name_has_the_same_fields():
    api, _ = current_api()
    schemas = api["components"]["schemas"]
    differ = {}
    for name, cls in sdk_models().items():
        if name in schemas:
            sdk, ours = wire_names(cls), properties(schemas, name)
            if sdk != ours:
                differ[name] = {"only in the SDK": sorted(sdk - ours), "only here": sorted(ours - sdk)}
    assert differ == {}


def test_every_sdk_operation_and_query_parameter_is_described():
    api, sdk_only = current_api()
    ours = {}
    for path, ops in api["paths"].items():
        for method, op in ops.items():
            ours[(method.upper(), template(path))] = {
                p["name"] for p in op.get("parameters", []) if p["in"] == "query"
            }
    only_in_sdk = set()
    sdk_only_templates = {f"{e.split(' ')[0]} {template(e.split(' ', 1)[1])}" for e in sdk_only}
    for method, path, query in sdk_operations():
        key = (method, template(path))
        if key not in ours:
            if f"{method} {template(path)}" not in sdk_only_templates:
                only_in_sdk.add(f"{method} {path}")
            continue
        for q in query - ours[key]:
            if f"{method} {template(path)}?{q}" not in sdk_only_templates:
                only_in_sdk.add(f"{method} {path}?{q}")
    assert only_in_sdk == set()


def test_scores_are_created_in_batches():
    api, _ = current_api()
    op = api["paths"]["/api/public/scores"]["post"]
    body = op["requestBody"]["content"]["application/json"]["schema"]
    assert body["type"] == "array"
    assert body["items"]["$ref"].endswith("/CreateScoreRequest")
    assert set(op["responses"]) >= {"202", "207"} and "200" not in op["responses"]
