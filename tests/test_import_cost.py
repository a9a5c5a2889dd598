"""Start-up stays cheap: ``import quire``, ``quire --help`` and ``quire artifact --help``
load none of the heavy dependencies (SQLAlchemy, pyarrow, obstore, numpy, psycopg) nor
the catalog's code, until a store is opened or a table is read.

Each check runs in a fresh interpreter (a module imported by an earlier test would hide
the import under test) and reads ``sys.modules`` at the end. How long start-up takes is
measured in ``bench/startup.py``, not here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from support import patience

#: what no start-up may load: the catalog (SQLAlchemy and Quire's SQL code), the blob
#: store's cloud client, the tables' Arrow and numpy, the PostgreSQL driver
HEAVY = ("sqlalchemy", "pyarrow", "obstore", "numpy", "psycopg", "quire.store.sql")


def loaded_after(code: str, env: dict[str, str]) -> set[str]:
    """The modules in ``sys.modules`` once ``code`` has run in a fresh interpreter (a
    ``SystemExit`` from a command line's ``--help`` ends ``code``, not the check)."""
    program = (
        "import json, sys\n"
        f"try:\n    exec({code!r})\nexcept SystemExit as exc:\n    assert exc.code in (None, 0), exc.code\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    proc = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=patience(1))
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


def heavy_in(modules: set[str]) -> list[str]:
    """The :data:`HEAVY` modules (or their submodules) among ``modules``."""
    return sorted(h for h in HEAVY if any(m == h or m.startswith(h + ".") for m in modules))


def test_import_quire_loads_nothing_heavy(python_env: dict[str, str]) -> None:
    modules = loaded_after("import quire", python_env)
    assert heavy_in(modules) == []
    # the command line's libraries too: a script that imports quire prints no help
    assert [m for m in ("typer", "rich") if m in modules] == []


def test_the_sdk_names_load_nothing_heavy_until_a_store_opens(python_env: dict[str, str]) -> None:
    # Making a draft and reading what no run has touch no catalog (adding a file does: it
    # stages the bytes in the store).
    code = (
        "import quire\n"
        "from quire import Api, Artifact, init, reporting\n"
        "art = Artifact('weights', 'model', metadata={'epochs': 3})\n"
        "assert quire.run is None and quire.config is not None and Api and init and reporting\n"
    )
    assert heavy_in(loaded_after(code, python_env)) == []


@pytest.mark.parametrize("args", [["--help"], ["artifact", "--help"]])
def test_help_loads_no_catalog(args: list[str], python_env: dict[str, str]) -> None:
    code = f"import sys\nsys.argv = ['quire', *{args!r}]\nfrom quire.cli import main\nmain()\n"
    modules = loaded_after(code, python_env)
    assert "quire.cli.artifact" in modules  # the command tree was built
    assert heavy_in(modules) == []


def test_opening_a_store_loads_the_catalog(python_env: dict[str, str], tmp_path: Path) -> None:
    # The other side of the checks above: they would pass as well if the checks could not
    # see an import; here the same wrapper sees the catalog arrive with the store.
    code = f"import quire\nquire.Api(store={str(tmp_path / 'store')!r}).projects()\n"
    modules = loaded_after(code, python_env)
    assert {"sqlalchemy", "quire.store.sql"} <= modules
    # tables and cloud stores are another matter: loaded when a table is read, a bucket opened
    assert [m for m in ("pyarrow", "numpy", "obstore") if m in modules] == []


def test_lazy_names_are_the_real_ones(python_env: dict[str, str]) -> None:
    # Before first use they are listed, after it they are the sdk's own objects.
    code = (
        "import quire\n"
        "listed = [n for n in ('Api', 'Artifact', 'init', 'Run', 'reporting') if n in dir(quire)]\n"
        "assert len(listed) == 5, listed\n"
        "from quire.sdk.run import init\n"
        "from quire.sdk.api import Api\n"
        "assert quire.init is init and quire.Api is Api\n"
        "from quire.store import sqlite_engine, writer_turn\n"
        "from quire.store.sql.engines import sqlite_engine as engine\n"
        "assert sqlite_engine is engine and callable(writer_turn)\n"
    )
    assert "quire.sdk.run" in loaded_after(code, python_env)


def test_a_draft_saved_first_thing_logs_in_a_run_of_its_own(python_env: dict[str, str], tmp_path: Path) -> None:
    # quire.Artifact is the only name touched: the run module, which says how a draft is
    # logged without a run, must have come with it.
    (tmp_path / "w.bin").write_bytes(b"weights")
    code = (
        "import quire\n"
        f"art = quire.Artifact('weights', 'model')\nart.add_file({str(tmp_path / 'w.bin')!r})\n"
        "art.save()\nart.wait()\n"
    )
    env = python_env | {"QUIRE_STORE": str(tmp_path / "store")}
    assert "quire.sdk.run" in loaded_after(code, env)
    read = "import quire\nassert quire.Api().artifact('weights:v0').files()[0].name == 'w.bin'\n"
    assert "quire.store.sql" in loaded_after(read, env)
