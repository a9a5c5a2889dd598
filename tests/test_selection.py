"""The test selections that docs/testing.md promises: a plain ``pytest`` runs no slow or
service test, every test that needs a service is marked so, and each has a hang guard."""

from __future__ import annotations

import pytest

from conftest import HANG_GUARD, SERVICE_FIXTURES, _default_selection
from support import patience, process_start


def _marked(item: pytest.Item, *names: str) -> bool:
    return any(item.get_closest_marker(name) for name in names)


def test_every_service_test_is_marked_services(request: pytest.FixtureRequest) -> None:
    items = request.session.items
    needing = [
        item
        for item in items
        if _marked(item, "postgres", "s3", "ray") or set(SERVICE_FIXTURES) & set(getattr(item, "fixturenames", ()))
    ]
    assert all(_marked(item, "services") for item in needing)


def test_the_default_selection_leaves_out_slow_and_service_tests(request: pytest.FixtureRequest) -> None:
    if not _default_selection(request.config):
        pytest.skip("runs in the default selection only")
    assert not [item.nodeid for item in request.session.items if _marked(item, "slow", "services")]


def test_this_test_has_a_hang_guard_measured_on_this_machine(request: pytest.FixtureRequest) -> None:
    if request.config.getoption("timeout", None) is not None:
        pytest.skip("--timeout given: pytest-timeout's own guard applies")
    guard = request.node.get_closest_marker("timeout")
    assert guard is not None and guard.args[0] >= patience(HANG_GUARD) / 2


def test_patience_grows_with_the_work_and_has_a_floor() -> None:
    assert process_start() > 0
    assert patience(0) == 10.0
    assert patience(64) > patience(1) >= 10.0
