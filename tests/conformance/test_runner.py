"""``python -m quire.testing`` runs the shipped suites against a backend named on the
command line: a real subprocess, against a folder (``file://``) and moto's S3."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from quire.testing import BlobStoreTests, CatalogTests, ObjectStoreTests

#: the tests of the two object-store suites: each must run, none be skipped
SUITE_TESTS = sum(name.startswith("test_") for suite in (ObjectStoreTests, BlobStoreTests) for name in dir(suite))
#: the tests of the catalog suite, and those of them that need the backend's backdoor
CATALOG_TESTS = sum(name.startswith("test_") for name in dir(CatalogTests))


def run_suites(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "quire.testing", *args, "-q", "-rs"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def assert_all_passed(result: subprocess.CompletedProcess[str], tests: int = SUITE_TESTS, skipped: int = 0) -> None:
    """The run passed exactly ``tests`` tests (and skipped ``skipped``); the other
    suites' tests are deselected."""
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = result.stdout.strip().splitlines()[-1]
    skips = f", {skipped} skipped" if skipped else ""
    assert re.fullmatch(rf"{tests} passed{skips}(, \d+ deselected)? in [\d.]+s( \(.*\))?", summary), summary


def test_the_suites_run_against_a_folder(python_env: dict[str, str], tmp_path: Path) -> None:
    assert SUITE_TESTS > 40
    assert_all_passed(run_suites(python_env, "--objects", (tmp_path / "suite").as_uri()))


def test_the_catalog_suite_runs_against_a_directory(python_env: dict[str, str], tmp_path: Path) -> None:
    result = run_suites(python_env, "--catalog", str(tmp_path / "catalog"))
    # Given by location, a catalog has no backdoor: the tests that need one skip.
    skipped = int(re.search(r"(\d+) skipped", result.stdout.strip().splitlines()[-1]).group(1))  # type: ignore[union-attr]
    assert 0 < skipped < 10
    assert_all_passed(result, CATALOG_TESTS - skipped, skipped)


@pytest.mark.s3
def test_the_suites_run_against_s3(
    python_env: dict[str, str],
    s3_env: dict[str, str],
    s3_bucket: str,
    s3_client,  # type: ignore[no-untyped-def]
) -> None:
    assert_all_passed(run_suites({**python_env, **s3_env}, "--objects", f"s3://{s3_bucket}/suite"))
    left = s3_client.list_objects_v2(Bucket=s3_bucket).get("KeyCount", 0)
    assert left == 0  # every test's storage was emptied afterwards


def test_a_backend_that_fails_fails_the_run(python_env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")  # every test's store is below it: none opens
    result = run_suites(python_env, "--objects", (tmp_path / "a-file").as_uri(), "-k", "distinct_keys")
    assert result.returncode == 1
    assert re.search(r"\b1 (error|failed)\b", result.stdout.strip().splitlines()[-1]), result.stdout[-2000:]


def test_an_unknown_scheme_is_refused_with_the_known_ones(python_env: dict[str, str]) -> None:
    result = run_suites(python_env, "--objects", "nope://bucket")
    assert result.returncode == 2
    assert re.search(r"unknown object store location 'nope://bucket'.*file:///path.*s3://", result.stderr)
    assert result.stderr.count("\n") == 1


def test_no_backend_is_a_usage_error(python_env: dict[str, str]) -> None:
    result = run_suites(python_env)
    assert result.returncode == 2 and "--objects URL and/or --catalog LOCATION" in result.stderr
