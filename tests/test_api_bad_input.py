"""Odd identifiers found by Schemathesis: answered 404 or as "no match", never a 500."""

from __future__ import annotations

import pytest

HUGE = "338697601686319793176576"


def test_an_event_id_beyond_64_bits_is_not_found(client, tenant):
    response = client.get(f"/api/events/{HUGE}", headers=tenant.auth)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "event_not_found"


@pytest.mark.parametrize("path", ["/api/enrollments", "/api/messages"])
@pytest.mark.parametrize("value", [HUGE, "9" * 5000, "\u00b2", "\u0663"])
def test_a_sequence_filter_that_is_no_row_id_matches_nothing(client, tenant, path, value):
    response = client.get(path, query_string={"sequence": value}, headers=tenant.auth)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["total"] == 0
