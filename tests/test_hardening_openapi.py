"""The OpenAPI document lists the 414 and 431 JSON answers of every operation (issue 16).

``storeflow.web.errors.check_request_size`` refuses an over-long request line or
oversized headers before any route runs, so every documented operation can answer
them; a client generated from the document must know their shape.
"""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from storeflow.web import errors


@pytest.fixture
def doc(client) -> dict[str, Any]:
    return client.get("/api/openapi.json").get_json()


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in doc["paths"].items() for method, op in ops.items()]


def test_every_operation_documents_414_and_431_as_json_errors(doc):
    error = {"$ref": "#/components/schemas/ErrorResponse"}
    operations = _operations(doc)
    assert len(operations) > 20
    for path, method, op in operations:
        for code in ("414", "431"):
            described = op["responses"].get(code)
            assert described is not None, f"{method.upper()} {path} lacks {code}"
            assert described["content"]["application/json"]["schema"] == error


def _validator(doc: dict[str, Any]) -> Draft202012Validator:
    schema = {"$ref": "#/components/schemas/ErrorResponse", "components": doc["components"]}
    return Draft202012Validator(schema)


def test_the_answers_match_what_the_document_says(client, tenant, doc):
    validator = _validator(doc)
    long_line = client.get("/api/events?name=" + "a" * 5 * 1024, headers=tenant.auth)
    big = client.get("/api/events", headers={**tenant.auth, "X-Big": "b" * 9000})
    many = {f"X-H{i}": "v" for i in range(errors.MAX_HEADER_FIELDS + 1)}
    # An unauthenticated route too: the check runs before authentication.
    crowded = client.post("/api/woocommerce/connect", headers=many, json={})
    for response, status, code in (
        (long_line, 414, "uri_too_long"),
        (big, 431, "headers_too_large"),
        (crowded, 431, "headers_too_large"),
    ):
        assert response.status_code == status
        body = response.get_json()
        validator.validate(body)
        assert body["error"]["code"] == code
    assert str(long_line.status_code) in doc["paths"]["/api/events"]["get"]["responses"]


def test_the_email_step_documents_html_and_from(doc):
    email = doc["components"]["schemas"]["RuleEmail"]["properties"]
    assert "multipart/alternative" in email["html"]["description"]
    assert "HTML-escaped" in email["html"]["description"]
    assert "display name" in email["from"]["description"]
    assert "STOREFLOW_MAIL_FROM" in email["from"]["description"]
    assert email["from"]["minLength"] == 1  # the description did not replace the bounds
