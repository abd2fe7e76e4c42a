"""The OpenAPI document declares the statuses the server answers (checked against the app)."""
from __future__ import annotations

import pytest

from conftest import make_encounter
from supportable.server.app import create_app
from supportable.server.registry import Registry
from supportable.server.settings import Settings


@pytest.fixture(scope="module")
def client():
    settings = Settings.from_env({}, tune_gc=False, reload_interval=0, decision_log="", snapshot="")
    return create_app(settings, Registry.load(settings.policies)).test_client()


@pytest.mark.parametrize("path", ["/v1/check", "/v1/check/batch"])
def test_an_unknown_payer_is_declared_as_the_server_answers_it(client, path):
    spec = client.get("/openapi.json").get_json()
    declared = spec["paths"][path]["post"]["responses"]
    body = make_encounter([{"code": "97110", "minutes": 15, "units": 1}])
    answer = client.post(f"{path}?payer=nobody", json=body if path.endswith("check") else [body])
    assert answer.status_code in (404, 422)
    assert str(answer.status_code) in declared
    assert "404" not in declared           # the server never answers 404 here
