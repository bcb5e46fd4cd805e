"""The OpenAPI document covers every /api route the app serves."""

from __future__ import annotations

import re


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-zA-Z_]+)>", lambda m: "{" + _camel(m.group(1)) + "}", rule)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def test_every_api_route_is_documented(app, client):
    doc = client.get("/api/openapi.json").get_json()
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api"):
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if (_openapi_path(rule.rule), method.lower()) not in documented:
                missing.append(f"{method} {rule.rule}")
    assert missing == []


def test_documented_paths_exist(app, client):
    doc = client.get("/api/openapi.json").get_json()
    served = {_openapi_path(r.rule) for r in app.url_map.iter_rules()}
    assert set(doc["paths"]) - served == set()


def test_unknown_api_path_is_json_404(client):
    response = client.get("/api/nope")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    assert response.get_json()["success"] is False


def test_wrong_method_is_json_405(client):
    response = client.delete("/api/events")
    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"
