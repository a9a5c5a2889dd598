"""API keys from the command line (``quire server init``, ``quire server key …``), the
serving command's options, and ``quire login`` / ``quire.login(key=, host=)``."""

from __future__ import annotations

import json
import os
import stat
import sys
import types
from pathlib import Path

import pytest

import quire
from quire.cli import app
from quire.errors import UsageError, ValidationError
from quire.store import open_store
from quire.store.http.session import api_key, credentials_file
from quire.store.keys import KeyRecord, key_ring
from servers import not_on_a_server
from test_cli import assert_one_line_error, quire_cli, runner


def records(where: str | None = None) -> list[KeyRecord]:
    """The keys of the store at ``where`` (default: this test's, ``QUIRE_STORE``)."""
    return key_ring(open_store(where).catalog).keys()


def live(key: str) -> bool:
    """Whether the store of this test (``QUIRE_STORE``) takes ``key``."""
    return key_ring(open_store().catalog).key_for(key) is not None


def secret_of(key: str, key_id: str) -> str:
    return key.removeprefix(f"qk_{key_id}_")


# -- init --------------------------------------------------------------------------------


def test_init_prints_an_admin_key_once_and_it_works() -> None:
    out = quire_cli("server", "init").stdout
    key = next(line for line in out.splitlines() if line.startswith("qk_"))
    assert "shown only now" in out
    assert live(key)
    [record] = records()
    assert record.scope == "admin" and key.startswith(f"qk_{record.id}_")


def test_init_json_gives_the_key_its_id_and_scope() -> None:
    made = json.loads(quire_cli("server", "init", "--json").stdout)
    assert set(made) == {"key", "id", "scope"}
    assert made["scope"] == "admin" and made["key"].startswith(f"qk_{made['id']}_")
    assert live(made["key"])


def test_init_twice_is_refused_and_says_how_to_make_another() -> None:
    first = json.loads(quire_cli("server", "init", "--json").stdout)
    result = runner.invoke(app, ["server", "init"])
    assert_one_line_error(result, "admin key already", first["id"], "quire server key create --scope admin")
    assert "qk_" not in result.stdout
    assert [r.id for r in records()] == [first["id"]]


def test_init_again_once_the_admin_key_is_revoked() -> None:
    first = json.loads(quire_cli("server", "init", "--json").stdout)
    quire_cli("server", "key", "create", "--scope", "admin", "--json")  # a live admin key...
    assert runner.invoke(app, ["server", "init"]).exit_code == 1  # ...refuses init
    listed = json.loads(quire_cli("server", "key", "ls", "--json").stdout)
    for record in listed:
        quire_cli("server", "key", "revoke", record["id"])
    second = json.loads(quire_cli("server", "init", "--json").stdout)
    assert second["id"] != first["id"] and live(second["key"]) and not live(first["key"])


# -- create, ls, revoke ---------------------------------------------------------------------


NO_TLS = {"ssl_certfile": None, "ssl_keyfile": None}


@pytest.mark.usefixtures("store_kind")  # embedded, and PostgreSQL + S3
def test_create_ls_revoke_round_trip() -> None:
    not_on_a_server("keys are made on the store behind a server, by whoever can reach it")
    made = json.loads(
        quire_cli(
            "server", "key", "create", "--scope", "write", "--project", "vision", "--label", "ci", "--json"
        ).stdout
    )
    assert set(made) == {"key", "id", "scope", "project"}
    assert (made["scope"], made["project"]) == ("write", "vision")
    other = json.loads(quire_cli("server", "key", "create", "--scope", "read", "--json").stdout)
    assert other["project"] is None
    assert live(made["key"]) and live(other["key"])

    listed = json.loads(quire_cli("server", "key", "ls", "--json").stdout)
    assert [r["id"] for r in listed] == [made["id"], other["id"]]
    assert set(listed[0]) == {"id", "scope", "project", "label", "created_at", "revoked_at"}
    assert (listed[0]["label"], listed[0]["project"], listed[0]["revoked_at"]) == ("ci", "vision", None)

    revoked = json.loads(quire_cli("server", "key", "revoke", made["id"], "--json").stdout)
    assert revoked["id"] == made["id"] and revoked["revoked_at"] is not None
    assert not live(made["key"]) and live(other["key"])
    again = json.loads(quire_cli("server", "key", "revoke", made["id"], "--json").stdout)
    assert again["revoked_at"] == revoked["revoked_at"]

    listed = json.loads(quire_cli("server", "key", "ls", "--json").stdout)
    assert [(r["id"], r["revoked_at"] is not None) for r in listed] == [(made["id"], True), (other["id"], False)]
    text = quire_cli("server", "key", "ls").stdout
    assert made["id"] in text and other["id"] in text and "vision" in text


def test_create_prints_the_key_for_people() -> None:
    out = quire_cli("server", "key", "create", "--scope", "read", "--project", "p").stdout
    key = next(line for line in out.splitlines() if line.startswith("qk_"))
    assert "read key" in out and "project p" in out and "shown only now" in out
    assert live(key)


def test_key_ls_never_shows_a_key_or_a_secret() -> None:
    made = [json.loads(quire_cli("server", "init", "--json").stdout)]
    made += [
        json.loads(quire_cli("server", "key", "create", "--scope", scope, "--label", "x", "--json").stdout)
        for scope in ("read", "write")
    ]
    quire_cli("server", "key", "revoke", made[1]["id"])
    for out in (quire_cli("server", "key", "ls").stdout, quire_cli("server", "key", "ls", "--json").stdout):
        for key in made:
            assert key["id"] in out  # the listing is of these keys...
            assert key["key"] not in out and secret_of(key["key"], key["id"]) not in out  # ...without secrets


@pytest.mark.parametrize("scope", ["root", "ADMIN", ""])
def test_a_bad_scope_is_one_line_exit_1_and_stores_nothing(scope: str) -> None:
    result = runner.invoke(app, ["server", "key", "create", "--scope", scope])
    assert_one_line_error(result, "scope", "read, write, admin")
    assert json.loads(quire_cli("server", "key", "ls", "--json").stdout) == []


def test_revoking_an_unknown_key_names_it() -> None:
    result = runner.invoke(app, ["server", "key", "revoke", "0123456789ab"])
    assert_one_line_error(result, "0123456789ab")


def test_key_ls_of_a_store_without_keys_says_how_to_make_one() -> None:
    assert "quire server init" in quire_cli("server", "key", "ls").stdout


def test_the_store_is_the_commands_or_the_roots_or_quire_store(tmp_path: Path) -> None:
    elsewhere, root_given = str(tmp_path / "elsewhere"), str(tmp_path / "root-given")
    quire_cli("server", "key", "create", "--store", elsewhere, "--scope", "read")
    quire_cli("--store", root_given, "server", "key", "create", "--scope", "write")
    quire_cli("server", "key", "create", "--scope", "admin")  # QUIRE_STORE
    scopes = {where: [r.scope for r in records(where)] for where in (elsewhere, root_given, os.environ["QUIRE_STORE"])}
    assert scopes == {elsewhere: ["read"], root_given: ["write"], os.environ["QUIRE_STORE"]: ["admin"]}


# -- serving ----------------------------------------------------------------------------------


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[tuple[tuple[object, ...], dict[str, object]]]:
    """The calls ``quire server`` makes to ``quire.server.run.serve`` (a stand-in: the
    command's job ends at the call)."""
    calls: list[tuple[tuple[object, ...], dict[str, object]]] = []
    run = types.ModuleType("quire.server.run")
    run.serve = lambda *args, **kwargs: calls.append((args, kwargs))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "quire.server.run", run)
    return calls


def test_server_without_a_command_serves_with_its_options(served, tmp_path: Path) -> None:
    where = str(tmp_path / "served")
    args = ["--store", where, "--host", "0.0.0.0", "--port", "9001", "--presign", "--max-request-mb", "3"]
    quire_cli("server", *args)
    assert served == [((where,), {"host": "0.0.0.0", "port": 9001, "presign": True, "max_request": 3 << 20, **NO_TLS})]


def test_server_serves_quire_store_with_the_defaults(served) -> None:
    quire_cli("server")
    expected = {"host": "127.0.0.1", "port": 8080, "presign": False, "max_request": 256 << 20, **NO_TLS}
    assert served == [((os.environ["QUIRE_STORE"],), expected)]


def test_a_key_command_does_not_serve(served) -> None:
    quire_cli("server", "key", "ls")
    assert served == []


# -- login ------------------------------------------------------------------------------------


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_login_saves_the_key_readable_by_the_owner_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUIRE_CONFIG_DIR", str(tmp_path / "config"))
    old = os.umask(0)  # a umask that takes nothing away: the mode is the code's own
    try:
        out = quire_cli("login", "https://quire.example.com/", "--key", "qk_0123456789ab_secret").stdout
    finally:
        os.umask(old)
    path = tmp_path / "config" / "credentials.json"
    assert credentials_file() == path
    assert json.loads(path.read_text()) == {"https://quire.example.com": "qk_0123456789ab_secret"}
    assert mode_of(path) == 0o600
    assert "qk_0123456789ab_secret" not in out
    assert api_key("https://quire.example.com/") == "qk_0123456789ab_secret"  # what the client sends


def test_login_keeps_other_servers_and_fixes_a_readable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUIRE_CONFIG_DIR", str(tmp_path / "config"))
    path = tmp_path / "config" / "credentials.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"http://other:8080": "qk_other", "https://srv": "qk_old"}))
    path.chmod(0o644)
    assert quire.login(key="qk_new", host="https://srv") is True
    assert json.loads(path.read_text()) == {"http://other:8080": "qk_other", "https://srv": "qk_new"}
    assert mode_of(path) == 0o600


def test_login_goes_to_the_users_config_folder_by_default() -> None:
    quire_cli("login", "http://127.0.0.1:8080", "--key", "qk_k")
    path = Path(os.environ["HOME"]) / ".config" / "quire" / "credentials.json"
    assert json.loads(path.read_text()) == {"http://127.0.0.1:8080": "qk_k"}
    assert mode_of(path) == 0o600


def test_login_without_a_key_or_a_terminal_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUIRE_CONFIG_DIR", str(tmp_path / "config"))
    result = runner.invoke(app, ["login", "https://srv"])
    assert_one_line_error(result, "no API key", "https://srv", "--key")
    assert not (tmp_path / "config" / "credentials.json").exists()


def test_login_asks_for_the_key_hidden_on_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import getpass

    monkeypatch.setenv("QUIRE_CONFIG_DIR", str(tmp_path / "config"))
    asked: list[str] = []
    monkeypatch.setattr(sys, "stdin", types.SimpleNamespace(isatty=lambda: True))
    monkeypatch.setattr(getpass, "getpass", lambda prompt: asked.append(prompt) or "qk_typed\n")
    assert quire.login(host="https://srv")
    assert asked and "https://srv" in asked[0]
    assert api_key("https://srv") == "qk_typed"


def test_login_refuses_a_damaged_credentials_file_and_leaves_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUIRE_CONFIG_DIR", str(tmp_path))
    path = tmp_path / "credentials.json"
    path.write_text("{not json")
    with pytest.raises(UsageError, match=r"credentials\.json"):
        quire.login(key="qk_k", host="https://srv")
    assert path.read_text() == "{not json"


@pytest.mark.parametrize("host", ["srv:8080", "ftp://srv", ""])
def test_login_refuses_what_is_not_a_server_url(host: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUIRE_CONFIG_DIR", str(tmp_path))
    with pytest.raises(ValidationError, match="http"):
        quire.login(key="qk_k", host=host)
    assert not (tmp_path / "credentials.json").exists()


@pytest.mark.parametrize("key", ["", "   ", "two words"])
def test_login_refuses_a_key_that_is_not_one_word(key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUIRE_CONFIG_DIR", str(tmp_path))
    with pytest.raises(ValidationError, match="API key"):
        quire.login(key=key, host="https://srv")
    assert not (tmp_path / "credentials.json").exists()


def test_login_without_a_host_saves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUIRE_CONFIG_DIR", str(tmp_path / "config"))
    assert quire.login(key="anything", relogin=True) is True
    assert not (tmp_path / "config").exists()


@pytest.mark.slow
def test_demo_through_a_server_starts_it_runs_the_demo_and_leaves_no_live_key(store_url: str) -> None:
    from test_cli import as_json, quire_cli

    out = quire_cli("demo", "--server").stdout
    assert "Started quire server on http://127.0.0.1:" in out
    assert "4 writer processes upserted a table part each" in out and "demo-scraped:v3" in out
    versions = as_json("artifact", "versions", "quire-demo/demo-dataset")  # in the store behind it
    assert [(v["version"], v["aliases"]) for v in versions] == [("v0", ["baseline"]), ("v1", ["latest"])]
    keys = as_json("server", "key", "ls")
    assert [k["label"] for k in keys] == ["quire demo --server"] and keys[0]["revoked_at"]
