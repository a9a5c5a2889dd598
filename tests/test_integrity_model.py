"""Issue 10's "Must show" machine: nothing a user does loses or changes committed bytes.

Random sequences of everything that touches bytes, through the public API as a W&B user
writes it: log (from fresh folders, some with an old mtime as ``tar -x`` leaves them,
and again from folders the user logged or downloaded and edited since),
collaborative upsert + finish, patches of any version (``new_draft``: add, remove a path
or a folder; committed at once or some steps later), ``incremental=True`` commits,
deletion of versions, gc with no grace period, cache cleanup (Python and CLI), downloads
into fresh folders (on the cache's
filesystem, where downloads are links, and on another one, where they are copies) and
into reused ones (``download`` and ``checkout``), with and without the cache, and the
edits users make to downloaded (and logged) files: ``chmod u+w`` and overwrite in place
(also with the mtime set back: exactly on the user's own files, from another file on
files shared with the cache; see the README on seals), append, truncate,
replace with a symlink to a file outside the folder, delete.

After every step:

- every committed version downloads (through the cache, and with ``skip_cache``)
  byte-identical to the model's copy;
- every folder the user owns holds what the user and the downloads put there: a
  download replaces the files at its manifest's paths and leaves other files alone
  (W&B's rule; ``checkout`` also deletes the others), and nothing else changes them;
- the user's files outside the folders (the symlinks' targets) are untouched.

The model is plain dicts (version index -> {path: bytes}); it uses none of Quire's helpers.
Files are a few bytes to a few KiB from a small pool, so the same bytes recur at several
paths and versions (dedup), with a rare file above the pack threshold (a large blob).
Collaborative writers never put different bytes at one path (conflicts are another
machine's subject). The default run is short; ``QUIRE_MODEL_EXAMPLES=N`` (with the
``slow`` test) runs a longer one.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import NamedTuple

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from typer.testing import CliRunner

import quire
import quire.store
from quire.cli import app
from quire.core.cache import cache_for
from quire.core.gc import collect_garbage

NAME, TYPE = "ds", "dataset"
PATHS = ["a.txt", "b.bin", "d/c.txt", "d/e/f.bin", "d/e/g.txt"]  # no path is another's folder
FOLDERS = ["d", "d/e"]
#: a fixed old mtime (a ``tar -x`` or ``SOURCE_DATE_EPOCH`` build): old enough for the
#: stat cache to remember the file's digest
OLD_MTIME_NS = 1_600_000_000 * 10**9


class Content(bytes):
    """Bytes with a short repr, so that a shrunk failure prints readably."""

    def __repr__(self) -> str:
        return f"<{len(self)} bytes {bytes(self[:6])!r}>"


SMALL = [b"", b"x", b"abcd", b"wxyz", b"same words\n", bytes(range(256)) * 8, b"\x00" * 3000]
LARGE = b"L" * (1 << 20) + b"tail"  # above the pack threshold: a blob of its own
# sampled_from is uniform: the large file is one draw in 29.
CONTENT = st.sampled_from([Content(b) for b in SMALL * 4 + [LARGE]])
FILES = st.dictionaries(st.sampled_from(PATHS), CONTENT, max_size=4)

#: the user's own files that downloaded paths may be replaced by symlinks to
VICTIMS = {"notes.txt": b"mine, not Quire's", "keys": b"VICT"}  # "keys" has the size of abcd
DROPS = st.lists(st.sampled_from(PATHS + FOLDERS), max_size=2)
EDITS = ["overwrite", "overwrite-keep-mtime", "append", "truncate", "symlink", "delete"]

# Logic, not durability: on tmpfs an fsync costs nothing, so the same time buys more steps.
# Folders elsewhere are then on another filesystem than the cache: downloads there are
# copies, not links.
NEAR = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
FAR = tempfile.gettempdir()

runner = CliRunner()
#: read at import: the tests' autouse fixture clears QUIRE_* from the environment
LONG_EXAMPLES = int(os.environ.get("QUIRE_MODEL_EXAMPLES", "100"))


class Link(NamedTuple):
    """In a folder's model: a symlink the user put at a path (to a file of ``VICTIMS``)."""

    target: str


def read_folder(root: Path) -> dict[str, bytes | Link]:
    """What is below ``root``: a file's bytes, or a symlink as a :class:`Link`."""
    found: dict[str, bytes | Link] = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root).replace(os.sep, "/")
            if stat.S_ISLNK(os.lstat(path).st_mode):
                found[rel] = Link(os.readlink(path))
            else:
                with open(path, "rb") as f:
                    found[rel] = f.read()
    return found


def _same_inode(path: Path, st: os.stat_result) -> bool:
    """Whether ``path`` is a file on the inode ``st`` describes (a symlink is not)."""
    try:
        other = os.lstat(path)
    except FileNotFoundError:
        return False
    return stat.S_ISREG(other.st_mode) and (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino)


def flipped(data: bytes) -> bytes:
    """``data`` with its first bytes changed, same size (other bytes, same length)."""
    head = bytes(b ^ 0xFF for b in data[:16])
    return head + data[16:]


class IntegrityMachine(RuleBasedStateMachine):
    """One collection in a store; the model: versions, the open pending version, the
    user's folders and the user's files outside them."""

    #: where the store is: None = a fresh embedded store per example, else a URL (a
    #: team store shared by the examples, each in a project of its own)
    store_url: str | None = None
    examples = 0

    def __init__(self) -> None:
        super().__init__()
        IntegrityMachine.examples += 1
        self.dir = Path(tempfile.mkdtemp(prefix="quire-integrity-", dir=NEAR))
        self.far = Path(tempfile.mkdtemp(prefix="quire-integrity-far-", dir=FAR))
        self.project = f"m{IntegrityMachine.examples}"
        self.saved_cache_dir = os.environ.get("QUIRE_CACHE_DIR")
        # skip_cache's scratch cache too: on disk, its commits' fsyncs were most of a step.
        self.saved_tempdir, tempfile.tempdir = tempfile.tempdir, NEAR
        if self.store_url is None:
            self.store = str(self.dir / "store")  # its cache: <store>/cache, as by default
        else:
            self.store = self.store_url
            os.environ["QUIRE_CACHE_DIR"] = str(self.dir / "cache")  # a cold cache per example
        self.api = quire.Api(store=self.store, overrides={"project": self.project})
        self.n = 0
        self.victims: dict[str, bytes] = {}
        for name, data in VICTIMS.items():
            path = self.dir / "mine" / name
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(data)
            self.victims[str(path)] = data
        # The model.
        self.versions: dict[int, dict[str, bytes]] = {}
        self.latest: int | None = None
        self.next_index = 0
        self.pending: dict[str, bytes] | None = None  # the open pending version's files
        self.pending_id = 0
        self.draft: tuple[quire.Artifact, dict[str, bytes], int] | None = None  # (draft, files, parent)
        self.folders: list[tuple[Path, dict[str, bytes | Link]]] = []

    def teardown(self) -> None:
        quire.finish()
        quire.store.close_stores()
        tempfile.tempdir = self.saved_tempdir
        if self.saved_cache_dir is None:
            os.environ.pop("QUIRE_CACHE_DIR", None)
        else:
            os.environ["QUIRE_CACHE_DIR"] = self.saved_cache_dir
        for path in (self.dir, self.far):
            shutil.rmtree(path, ignore_errors=True)

    # -- helpers ----------------------------------------------------------------------

    def _fresh(self, what: str, base: Path | None = None) -> Path:
        self.n += 1
        return (base or self.dir) / f"{what}{self.n}"

    def _source(self, files: dict[str, bytes], old_mtime: bool = False) -> Path:
        root = self._fresh("src")
        for rel, data in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(bytes(data))
            if old_mtime:
                os.utime(path, ns=(OLD_MTIME_NS, OLD_MTIME_NS))
        root.mkdir(exist_ok=True)
        return root

    def _run(self, **kwargs: str) -> quire.Run:
        return quire.init(project=self.project, store=self.store, **kwargs)

    def _commit(self, got: quire.Artifact, files: dict[str, bytes]) -> None:
        """Check the version ``got`` against the model and record it."""
        index = int(got.version[1:])
        same = [i for i, held in self.versions.items() if held == files]
        if same:  # equal files: no new version, the equal one is returned, and is latest now
            assert index == same[0], (index, same)
            self.latest = index
            return
        assert index not in self.versions and index >= self.next_index, (index, sorted(self.versions))
        self.versions[index] = dict(files)
        self.next_index = index + 1
        self.latest = index

    def _bytes_of(self, held: dict[str, bytes | Link]) -> dict[str, bytes]:
        """What logging a folder reads: files, and the files its symlinks point at."""
        return {p: self.victims[v.target] if isinstance(v, Link) else v for p, v in held.items()}

    # -- writing versions -------------------------------------------------------------

    @rule(files=FILES, by_dir=st.booleans(), old_mtime=st.booleans(), keep=st.booleans())
    def log(self, files: dict[str, bytes], by_dir: bool, old_mtime: bool, keep: bool) -> None:
        """Log a folder; ``keep``: the user goes on editing it (and logs it again)."""
        root = self._source(files, old_mtime)
        if keep and len(self.folders) < 4:
            self.folders.append((root, dict(files)))
        artifact = quire.Artifact(NAME, TYPE)
        if by_dir:
            artifact.add_dir(root)
        else:
            for rel in files:
                artifact.add_file(root / rel, rel)
        with self._run() as run:
            got = run.log_artifact(artifact)
        self._commit(got, dict(files))

    @precondition(lambda self: any(root.is_dir() for root, _ in self.folders))
    @rule(data=st.data())
    def log_folder(self, data: st.DataObject) -> None:
        """Log a folder the user downloaded or logged before, and edited since."""
        # (Downloading an empty version makes no folder today: not this machine's subject.)
        folders = [f for f in self.folders if f[0].is_dir()]
        root, held = data.draw(st.sampled_from(folders), label="folder")
        artifact = quire.Artifact(NAME, TYPE)
        artifact.add_dir(root)
        with self._run() as run:
            got = run.log_artifact(artifact)
        self._commit(got, self._bytes_of(held))

    @rule(files=FILES)
    def upsert(self, files: dict[str, bytes]) -> None:
        pending = self.pending if self.pending is not None else {}
        files = {p: d for p, d in files.items() if pending.get(p, d) == d}  # no conflicts
        with self._run(group=f"collab{self.pending_id}") as run:
            artifact = quire.Artifact(NAME, TYPE)
            root = self._source(files)
            for rel in files:
                artifact.add_file(root / rel, rel)
            run.upsert_artifact(artifact)
        self.pending = {**pending, **files}

    @precondition(lambda self: self.pending is not None)
    @rule(files=FILES)
    def finish(self, files: dict[str, bytes]) -> None:
        assert self.pending is not None
        files = {p: d for p, d in files.items() if self.pending.get(p, d) == d}
        with self._run(group=f"collab{self.pending_id}") as run:
            artifact = quire.Artifact(NAME, TYPE)
            root = self._source(files)
            for rel in files:
                artifact.add_file(root / rel, rel)
            got = run.finish_artifact(artifact)
        merged = {**self.pending, **files}
        self.pending, self.pending_id = None, self.pending_id + 1
        self._commit(got, merged)

    def _draft(self, index: int, put: dict[str, bytes], drop: list[str]) -> tuple[quire.Artifact, dict[str, bytes]]:
        files = dict(self.versions[index])
        draft = self.api.artifact(f"{NAME}:v{index}").new_draft()
        for path in drop:
            under = [p for p in files if p == path or p.startswith(path + "/")]
            if under:  # removing what the draft does not hold is an error
                draft.remove(path)
                for p in under:
                    del files[p]
        root = self._source(put)
        for rel, content in put.items():
            draft.add_file(root / rel, rel, overwrite=True)
            files[rel] = content
        return draft, files

    @precondition(lambda self: self.versions)
    @rule(data=st.data(), put=FILES, drop=DROPS)
    def patch(self, data: st.DataObject, put: dict[str, bytes], drop: list[str]) -> None:
        index = data.draw(st.sampled_from(sorted(self.versions)), label="parent")
        draft, files = self._draft(index, put, drop)
        with self._run() as run:
            got = run.log_artifact(draft)
        self._commit(got, files)

    @precondition(lambda self: self.versions and self.draft is None)
    @rule(data=st.data(), put=FILES, drop=DROPS)
    def open_patch(self, data: st.DataObject, put: dict[str, bytes], drop: list[str]) -> None:
        """A patch committed some steps later: gc, deletions and other commits run
        meanwhile (its staged blobs and its parent's must survive them)."""
        index = data.draw(st.sampled_from(sorted(self.versions)), label="parent")
        draft, files = self._draft(index, put, drop)
        self.draft = (draft, files, index)

    @precondition(lambda self: self.draft is not None)
    @rule()
    def commit_patch(self) -> None:
        assert self.draft is not None
        (draft, files, parent), self.draft = self.draft, None
        try:
            with self._run() as run:
                got = run.log_artifact(draft)
        except quire.QuireError:
            # Refusing a draft whose parent version was deleted is allowed (issue 10,
            # item 7); committing one that points at collected blobs is not (the
            # invariant downloads it).
            if parent in self.versions:
                raise
            return
        self._commit(got, files)

    @precondition(lambda self: self.latest is not None)
    @rule(put=FILES, drop=st.sampled_from([None, "a.txt", "d", "d/e/f.bin"]))
    def incremental(self, put: dict[str, bytes], drop: str | None) -> None:
        assert self.latest is not None
        files = dict(self.versions[self.latest])
        artifact = quire.Artifact(NAME, TYPE, incremental=True)
        if drop is not None:
            artifact.remove(drop)
            files = {p: d for p, d in files.items() if p != drop and not p.startswith(drop + "/")}
        root = self._source(put)
        for rel, content in put.items():
            artifact.add_file(root / rel, rel)
            files[rel] = content
        with self._run() as run:
            got = run.log_artifact(artifact)
        self._commit(got, files)

    @precondition(lambda self: self.versions)
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        index = data.draw(st.sampled_from(sorted(self.versions)), label="version")
        self.api.artifact(f"{NAME}:v{index}").delete(delete_aliases=True)
        del self.versions[index]
        if index == self.latest:
            self.latest = max(self.versions) if self.versions else None

    # -- the store and the cache ------------------------------------------------------

    @rule()
    def gc(self) -> None:
        collect_garbage(quire.store.open_store(self.store), grace=0)

    @rule(max_bytes=st.sampled_from([0, 3000, 1 << 20]), by_cli=st.booleans())
    def cache_cleanup(self, max_bytes: int, by_cli: bool) -> None:
        if by_cli:
            result = runner.invoke(app, ["--store", self.store, "cache", "cleanup", str(max_bytes)])
            assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
        else:
            cache_for(quire.store.open_store(self.store).local_dir).cleanup(max_bytes)

    # -- the user's folders -----------------------------------------------------------

    @precondition(lambda self: self.versions)
    @rule(data=st.data(), skip_cache=st.booleans())
    def download(self, data: st.DataObject, skip_cache: bool) -> None:
        index = data.draw(st.sampled_from(sorted(self.versions)), label="version")
        places = ["near", "far"] if len(self.folders) < 4 else []
        where = data.draw(st.sampled_from(places + list(range(len(self.folders)))), label="into")
        artifact = self.api.artifact(f"{NAME}:v{index}")
        files = self.versions[index]
        if isinstance(where, str):
            root = Path(
                artifact.download(self._fresh("dl", self.far if where == "far" else None), skip_cache=skip_cache)
            )
            self.folders.append((root, dict(files)))
            return
        root, held = self.folders[where]
        if data.draw(st.booleans(), label="checkout"):  # the folder holds exactly the version
            assert Path(artifact.checkout(root)) == root
            held.clear()
        else:  # files at the manifest's paths are replaced, others stay
            assert Path(artifact.download(root, skip_cache=skip_cache)) == root
        held.update(files)

    @precondition(lambda self: any(held for _, held in self.folders))
    @rule(data=st.data(), edit=st.sampled_from(EDITS))
    def edit_file(self, data: st.DataObject, edit: str) -> None:
        root, held = data.draw(st.sampled_from([f for f in self.folders if f[1]]), label="folder")
        files = sorted(p for p, v in held.items() if not isinstance(v, Link))
        if edit in ("symlink", "delete") or not files:
            edit = edit if edit in ("symlink", "delete") else "delete"
            files = sorted(held)
        rel = data.draw(st.sampled_from(files), label="path")
        path = root / rel
        if edit == "delete":
            path.unlink()
            del held[rel]
            return
        if edit == "symlink":
            target = data.draw(st.sampled_from(sorted(self.victims)), label="to")
            path.unlink()
            os.symlink(target, path)
            held[rel] = Link(target)
            return
        old = held[rel]
        assert isinstance(old, bytes)
        before = os.stat(path)
        # A hardlinked download shares its inode with the cache and with every other
        # download of the same bytes (README, "Downloads and the cache"): an edit in place
        # changes all of them, and the model follows. Only equal bytes may share one.
        twins = [(h, r) for r2, h in self.folders for r in h if _same_inode(r2 / r, before)]
        assert all(h[r] == old for h, r in twins), f"{rel} shares its inode with a file of other bytes"
        os.chmod(path, before.st_mode | stat.S_IWUSR)  # a downloaded file may be read-only
        if edit.startswith("overwrite"):
            new = flipped(old)
            with open(path, "r+b") as f:  # in place: same inode, same size
                f.write(new[:16])
            if edit == "overwrite-keep-mtime":
                if before.st_nlink == 1:  # the user's own inode: the mtime put back exactly
                    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
                else:
                    # Shared with the cache: a warm download checks the cached file's seal
                    # in its mtime, which an edit that sets back the exact nanoseconds
                    # keeps (README: what the seal does not catch). What tools do is take
                    # another file's mtime (cp -p, rsync -t --inplace).
                    other = self._fresh("mtime")
                    other.write_bytes(b"o")
                    os.utime(path, ns=(before.st_atime_ns, other.stat().st_mtime_ns))
        elif edit == "append":
            new = old + b"+"
            with open(path, "ab") as f:
                f.write(b"+")
        else:
            new = old[: len(old) // 2]
            os.truncate(path, len(new))
        for h, r in twins:
            h[r] = Content(new)

    # -- what must always hold --------------------------------------------------------

    @invariant()
    def every_version_downloads_as_committed(self) -> None:
        for index, files in sorted(self.versions.items()):
            artifact = self.api.artifact(f"{NAME}:v{index}")
            for skip_cache in (False, True):
                root = Path(artifact.download(self._fresh("check"), skip_cache=skip_cache))
                got = read_folder(root)
                assert got == files, (f"v{index}", "skip_cache" if skip_cache else "through the cache")
                shutil.rmtree(root, ignore_errors=True)  # (an empty version makes no folder)

    @invariant()
    def the_users_files_are_as_the_user_left_them(self) -> None:
        for root, held in self.folders:
            assert read_folder(root) == held, f"{root} holds other files than the user and the downloads left"
        for path, data in self.victims.items():
            assert Path(path).read_bytes() == data, f"{path}, outside every download folder, was written"


def machine_settings(examples: int, steps: int) -> settings:
    return settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        derandomize=True,  # the same sequences every run: a failure is reproducible
        database=None,
        # "explain" re-runs a failure many times to annotate it: minutes, on this store.
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


def run_machine(store_kind: str, examples: int, steps: int) -> None:
    class Machine(IntegrityMachine):
        store_url = None if store_kind == "embedded" else os.environ["QUIRE_STORE"]

    run_state_machine_as_test(Machine, settings=machine_settings(examples, steps))


@pytest.mark.slow
def test_integrity_model(store_kind: str) -> None:
    """The default run: short, on both kinds of store (fewer examples on the team store,
    where every step costs round trips)."""
    run_machine(store_kind, *((40, 30) if store_kind == "embedded" else (6, 15)))


@pytest.mark.slow
def test_integrity_model_long() -> None:
    """A longer run on the embedded store: ``QUIRE_MODEL_EXAMPLES`` examples (default 100)."""
    run_machine("embedded", LONG_EXAMPLES, 40)
