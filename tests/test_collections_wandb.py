"""Collections, types, projects and listings as W&B code uses them (``import quire as
wandb``): ``artifact.collection``, ``Api().artifact_collection`` and its edits, ``delete``
and ``change_type``, ``artifact_type(s)``, ``artifacts(tags=, order=, per_page=)``,
``project(s)``; and every bad input the issue names, each refused with the store unchanged."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

import quire as wandb
from quire.cli import app
from quire.errors import ArtifactNotFoundError, ArtifactNotLoggedError, ValidationError
from quire.sdk.collections import MAX_TTL, Paginated, check_type_change
from quire.store.sql import schema
from quire.testing.catalog import commit


def log(name: str, content: str, type_: str = "dataset", project: str = "p", **options: object) -> wandb.Artifact:
    """Log a version of ``project/name`` holding one file with ``content``."""
    with wandb.init(project=project) as run:
        art = wandb.Artifact(name, type_)
        with art.new_file("file.txt") as f:
            f.write(content)
        return run.log_artifact(art, **options)  # type: ignore[arg-type]


def state(api: wandb.Api, project: str = "p") -> list[tuple[str, str, str | None, list[str], dict[str, list[str]]]]:
    """What the project's collections hold: name, type, description, tags, version → aliases."""
    return [
        (c.name, c.type, c.description, c.tags, {a.version: sorted(a.aliases) for a in c.artifacts()})
        for c in api.artifact_collections(project)
    ]


@pytest.fixture
def api() -> wandb.Api:
    """An Api on the test's store, over ``p/data`` (v0, v1 ``best``, v2 ``latest``) and ``p/net``."""
    log("data", "0", tags=["raw"])
    log("data", "1", aliases=["best"], tags=["gold", "raw"])
    log("data", "2", tags=["gold"])
    log("net", "weights", type_="model")
    return wandb.Api(overrides={"project": "p"})


# -- reading ----------------------------------------------------------------------------


def test_a_collection_reads_as_wandb_shows_it(api: wandb.Api) -> None:
    coll = api.artifact_collection(type_name="dataset", name="p/data")
    assert (coll.name, coll.type, coll.project, coll.entity) == ("data", "dataset", "p", None)
    assert coll.aliases == ["best", "latest"]
    assert coll.is_sequence() and coll.id and coll.created_at.endswith("+00:00")
    assert repr(coll) == "<ArtifactCollection data (dataset)>"
    versions = coll.artifacts()
    assert len(versions) == 3 and [a.version for a in versions] == ["v0", "v1", "v2"]
    assert versions[0].version == "v0" and [a.version for a in versions[1:]] == ["v1", "v2"]
    assert [a.version for a in coll.versions()] == ["v0", "v1", "v2"]
    first = coll.artifacts()[0]
    first.download()  # the documented example: the first artifact of a collection, downloaded
    # addresses may carry an entity (ignored) and the Api's default project
    assert api.artifact_collection("dataset", "me/p/data").id == coll.id
    assert api.artifact_collection("dataset", "data").id == coll.id


def test_artifact_collection_is_the_collection_a_version_was_read_from(api: wandb.Api) -> None:
    art = api.artifact("p/data:best")
    assert (art.collection.name, art.collection.type, art.collection.id) == (
        "data",
        "dataset",
        api.artifact_collection("dataset", "data").id,
    )
    with pytest.raises(ArtifactNotLoggedError, match="draft"):
        _ = wandb.Artifact("draft", "dataset").collection


def test_a_missing_collection_or_one_of_another_type_is_not_found(api: wandb.Api) -> None:
    with pytest.raises(ArtifactNotFoundError, match="available: data, net"):
        api.artifact_collection("dataset", "p/missing")
    with pytest.raises(KeyError, match="type 'dataset'"):  # W&B code catches not-found as either
        api.artifact_collection("model", "p/data")
    assert api.artifact_collection_exists("data", "dataset") and api.artifact_collection_exists("p/net", "model")
    assert not api.artifact_collection_exists("data", "model")
    assert not api.artifact_collection_exists("missing", "dataset")
    with pytest.raises(ValidationError, match="without ':vN'"):
        api.artifact_collection("dataset", "p/data:v0")
    with pytest.raises(ArtifactNotFoundError, match="type 'dataset'"):
        api.artifacts("model", "p/data")
    assert api.artifact_exists("p/data:v2") and not api.artifact_exists("p/data:v3")


# -- editing and saving -------------------------------------------------------------------


def test_a_rename_keeps_versions_aliases_and_id(api: wandb.Api) -> None:
    coll = api.artifact_collection("dataset", "data")
    before = {a.version: (a.id, sorted(a.aliases)) for a in coll.artifacts()}
    coll.name = "renamed"
    assert coll.name == "renamed" and api.artifact_collection_exists("data", "dataset")  # nothing saved yet
    coll.save()
    again = api.artifact_collection("dataset", "renamed")
    assert again.id == coll.id
    assert {a.version: (a.id, sorted(a.aliases)) for a in again.artifacts()} == before
    assert api.artifact("p/renamed:best").id == before["v1"][0]
    assert api.artifact("p/renamed:v1").collection.name == "renamed"
    assert not api.artifact_collection_exists("data", "dataset")
    with pytest.raises(ArtifactNotFoundError):
        api.artifact("p/data:latest")
    # new versions continue its numbering
    assert log("renamed", "3").version == "v3"


def test_the_guide_to_updating_a_collection_runs_as_written(api: wandb.Api) -> None:
    # W&B's "update an artifact" guide, with a collection (its keyword names included)
    with wandb.init(project="p"):
        collection = api.artifact_collection(type="dataset", collection="p/data")
        collection.name = "data-v2"
        collection.description = "What this collection is for"
        collection.save()
    again = api.artifact_collection(type_name="dataset", name="p/data-v2")
    assert (again.id, again.description) == (collection.id, "What this collection is for")
    with pytest.raises(ValidationError, match="needs a type"):
        api.artifact_collection(name="p/data-v2")


def test_description_tags_and_ttl_are_saved(api: wandb.Api) -> None:
    coll = api.artifact_collection("dataset", "data")
    coll.description = "MNIST, cleaned"
    coll.tags = ["vision", "hand written", "vision"]
    coll.ttl = timedelta(days=30)
    coll.save()
    again = api.artifact_collection("dataset", "data")
    assert (again.description, again.tags, again.ttl) == (
        "MNIST, cleaned",
        ["hand written", "vision"],
        timedelta(days=30),
    )
    assert [a.tags for a in again.artifacts()] == [["raw"], ["gold", "raw"], ["gold"]]  # version tags untouched
    again.tags = "one"  # a single tag, as W&B takes it
    again.description = None
    again.ttl = None
    again.save()
    last = api.artifact_collection("dataset", "data")
    assert (last.description, last.tags, last.ttl) == (None, ["one"], None)
    last.ttl = MAX_TTL  # the longest: its versions still read, with a date to expire at
    last.save()
    assert api.artifact_collection("dataset", "data").ttl == MAX_TTL
    assert api.artifact("p/data:v0").version == "v0"


def test_bad_edits_are_refused_when_made_and_nothing_is_written(api: wandb.Api) -> None:
    before = state(api)
    coll = api.artifact_collection("dataset", "data")
    for bad in ("a/b", "", "has space", "x" * 129, "a:b"):
        with pytest.raises(ValidationError, match="collection name"):
            coll.name = bad
    for bad_tags in (["ok", "bad/tag"], ["trailing "], ["a:b"], [3]):
        with pytest.raises(ValidationError, match="tag"):
            coll.tags = bad_tags  # type: ignore[assignment]
    for bad_ttl in (timedelta(0), timedelta(seconds=-5), timedelta.max, timedelta(days=10**6), 30):
        with pytest.raises(ValidationError, match="ttl"):
            coll.ttl = bad_ttl  # type: ignore[assignment]
    for bad_description in (42, "nul \x00 inside"):
        with pytest.raises(ValidationError, match="description"):
            coll.description = bad_description  # type: ignore[assignment]
    assert coll.name == "data" and coll.tags == []
    coll.save()  # nothing was edited: nothing changes
    assert state(api) == before


def test_a_rename_to_a_taken_name_is_refused_and_saves_nothing(api: wandb.Api) -> None:
    log("other", "x")
    before = state(api)
    coll = api.artifact_collection("dataset", "data")
    coll.name, coll.description, coll.tags = "other", "lost", ["lost"]
    with pytest.raises(ValidationError, match="choose another name"):
        coll.save()
    assert state(api) == before
    coll.name = "net"  # taken by a collection of another type, too
    with pytest.raises(ValidationError, match="'net'"):
        coll.save()
    assert state(api) == before


def test_saving_a_collection_deleted_meanwhile_is_refused_and_recreates_nothing(api: wandb.Api) -> None:
    mine = api.artifact_collection("dataset", "data")
    api.artifact_collection("dataset", "data").delete()
    mine.description = "too late"
    with pytest.raises(ArtifactNotFoundError, match="deleted or renamed since it was read"):
        mine.save()
    with pytest.raises(ArtifactNotFoundError, match="deleted or renamed"):
        mine.change_type("model")
    assert [c.name for c in api.artifact_collections("p")] == ["net"]


# -- types -------------------------------------------------------------------------------------


def test_a_type_change_by_save_or_change_type_moves_every_version(api: wandb.Api) -> None:
    coll = api.artifact_collection("dataset", "data")
    coll.type = "model"
    coll.save()
    assert [a.type for a in api.artifacts("model", "data")] == ["model"] * 3
    assert api.artifact("p/data:v1").type == "model"
    assert not api.artifact_collection_exists("data", "dataset")
    with pytest.raises(ValueError, match="type 'model'"):  # logging the old type is refused now
        log("data", "3")
    assert log("data", "3", type_="model").version == "v3"
    moved = api.artifact_collection("model", "data")
    moved.description = "kept for a later save"
    moved.change_type("dataset")  # W&B's older way: at once
    assert moved.type == "dataset" and moved.description == "kept for a later save"
    assert api.artifact_collection("dataset", "data").description is None
    assert [c.name for c in api.artifact_type("dataset").collections()] == ["data"]


def test_type_changes_wandb_refuses_are_refused_with_nothing_changed(api: wandb.Api) -> None:
    before = state(api)
    coll = api.artifact_collection("dataset", "data")
    for reserved in ("wandb-history", "wandb-anything"):
        with pytest.raises(ValidationError, match="reserved"):
            coll.change_type(reserved)
        coll.type = reserved
        with pytest.raises(ValidationError, match="reserved"):
            coll.save()
    coll.type = "job"  # every name is reserved for jobs
    with pytest.raises(ValidationError, match="reserved"):
        coll.save()
    for invalid in ("bad type", "a/b", ""):
        with pytest.raises(ValidationError, match="artifact type"):
            coll.change_type(invalid)
    assert state(api) == before
    # W&B's internal types stay what they are; renaming inside the rules is fine
    with pytest.raises(ValidationError, match="internal"):
        check_type_change("run-abc-table", "run_table", "dataset")
    with pytest.raises(ValidationError, match="internal"):
        check_type_change("anything", "wandb-history", "dataset")
    assert check_type_change("my-table", "run_table", "dataset") == "dataset"


def test_a_registry_collection_keeps_its_type(api: wandb.Api) -> None:
    source = api.artifact("p/net:latest")
    catalog = api.store.catalog
    commit(catalog, "link", project="wandb-registry-model", name="best-net", type_="model")
    _point_at(api, "wandb-registry-model", "best-net", source.id)
    coll = api.artifact_collection("model", "wandb-registry-model/best-net")
    assert not coll.is_sequence()
    with pytest.raises(ValidationError, match="registry collection"):
        coll.type = "dataset"
    with pytest.raises(ValidationError, match="registry collection"):
        coll.change_type("dataset")
    assert api.artifact_collection("model", "wandb-registry-model/best-net").type == "model"


def _point_at(api: wandb.Api, project: str, name: str, source_id: str) -> None:
    """Make every version of ``project/name`` a link to ``source_id``, as a registry link is
    recorded (``versions.source_id``), straight in the SQLite catalog."""
    engine = api.store.catalog.engine  # type: ignore[attr-defined]
    coll = (
        sa.select(schema.collections.c.id)
        .join(schema.projects, schema.projects.c.id == schema.collections.c.project_id)
        .where(schema.projects.c.name == project, schema.collections.c.name == name)
        .scalar_subquery()
    )
    with engine.begin() as conn:
        conn.execute(
            schema.versions.update().where(schema.versions.c.collection_id == coll).values(source_id=source_id)
        )


# -- deleting --------------------------------------------------------------------------------


def test_a_delete_takes_every_version_and_gc_then_frees_their_bytes(api: wandb.Api) -> None:
    coll = api.artifact_collection("dataset", "data")
    ids = [a.id for a in coll.artifacts()]
    coll.delete()
    assert not api.artifact_collection_exists("data", "dataset")
    assert not api.artifact_exists("p/data:v0") and not api.artifact_exists("p/data:best")
    assert not any(api.store.catalog.version_exists(i) for i in ids)
    assert [c.name for c in api.artifact_collections("p")] == ["net"]
    report = api.gc(grace=0)
    assert report.freed > 0
    api.artifact("p/net:latest").download()  # what is left is whole
    with pytest.raises(ArtifactNotFoundError, match="deleted"):
        coll.delete()  # twice
    # the name is free again, for a fresh collection
    assert log("data", "new").version == "v0"


def test_a_collection_that_registry_links_point_at_is_not_deleted(api: wandb.Api) -> None:
    source = api.artifact("p/net:latest")
    commit(api.store.catalog, "link", project="wandb-registry-model", name="best-net", type_="model")
    _point_at(api, "wandb-registry-model", "best-net", source.id)
    with pytest.raises(ValidationError, match=r"wandb-registry-model/best-net:v0.*unlink them first"):
        api.artifact_collection("model", "net").delete()
    assert api.artifact("p/net:latest").id == source.id
    api.artifact("p/net:latest").download()


# -- listings ------------------------------------------------------------------------------------


def test_artifacts_filters_by_tags_and_orders_as_asked(api: wandb.Api) -> None:
    def versions(**options: object) -> list[str]:
        return [a.version for a in api.artifacts("dataset", "p/data", **options)]  # type: ignore[arg-type]

    assert versions() == ["v0", "v1", "v2"]
    assert versions(tags=["gold"]) == ["v1", "v2"]
    assert versions(tags="raw") == ["v0", "v1"]
    assert versions(tags=["gold", "raw"]) == ["v1"]
    assert versions(tags=["none"]) == []
    assert versions(order="-created_at") == ["v2", "v1", "v0"]
    assert versions(order="-createdAt") == ["v2", "v1", "v0"]
    assert versions(order="+version") == ["v0", "v1", "v2"]
    assert versions(order="-version", tags=["raw"]) == ["v1", "v0"]
    assert [a.version for a in api.artifact_versions("dataset", "data", tags=["gold"])] == ["v1", "v2"]
    listing = api.artifacts("dataset", "data", per_page=2)
    assert isinstance(listing, Paginated) and isinstance(listing, Sequence)
    # W&B's paginators: nothing loaded until asked; a page at a time, then no more
    assert (len(listing), listing.per_page, listing.objects, listing.cursor) == (3, 2, [], None)
    assert listing.more and [a.version for a in listing.objects] == ["v0", "v1"]
    assert [a.version for a in listing] == ["v0", "v1", "v2"] and not listing.more
    assert [a.version for a in listing.objects] == ["v0", "v1", "v2"]
    first = api.artifacts("dataset", "data", per_page=2)
    assert first[1].version == "v1" and first.cursor is not None  # the first page loaded
    assert [a.version for a in api.artifacts("dataset", "data", start=first.cursor)] == ["v2"]
    assert [a.version for a in api.artifacts("dataset", "data", start=listing.cursor)] == []
    with pytest.raises(ValidationError, match="not a cursor of this listing"):
        api.artifacts("dataset", "data", order="size", start=first.cursor)


def test_bad_listing_arguments_are_refused(api: wandb.Api) -> None:
    for per_page in (0, -1, "10", 2.5, True):
        with pytest.raises(ValidationError, match="per_page must be a positive integer"):
            api.artifacts("dataset", "data", per_page=per_page)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="per_page"):
        api.artifact_collections("p", "dataset", per_page=0)
    with pytest.raises(ValidationError, match="per_page"):
        api.artifact_collection("dataset", "data").artifacts(per_page=0)
    with pytest.raises(ValidationError, match=r"cannot order by 'colour'.*created_at"):
        api.artifacts("dataset", "data", order="colour")
    with pytest.raises(ValidationError, match="invalid tag"):
        api.artifacts("dataset", "data", tags=["a/b"])
    with pytest.raises(ValidationError, match="project path"):
        api.artifact_collections("a/b/c")
    for listing in (api.artifact_type("model").collections, api.project("p").collections):
        assert [c.name for c in listing(filters={})] != []
        with pytest.raises(ValidationError, match="server-side filters"):
            listing(filters={"name": "net"})


def test_collections_and_types_of_a_project(api: wandb.Api) -> None:
    assert [c.name for c in api.artifact_collections("p")] == ["data", "net"]
    assert [c.name for c in api.artifact_collections("me/p", "model")] == ["net"]
    assert [c.name for c in api.artifact_collections("p", order="-name")] == ["net", "data"]
    assert [c.name for c in api.artifact_collections("p", order="-created_at")] == ["net", "data"]
    types = api.artifact_types("p")
    assert [t.name for t in types] == ["dataset", "model"] and repr(types[0]) == "<ArtifactType dataset>"
    model = api.artifact_type("model", "p")
    assert (model.name, model.type, model.id) == ("model", "model", api.artifact_type("model").id)
    assert [c.name for c in model.collections()] == ["net"]
    assert model.collection("net").aliases == ["latest"]
    with pytest.raises(ArtifactNotFoundError, match=r"no model collection p/data.*of type 'dataset'"):
        model.collection("data")
    with pytest.raises(ArtifactNotFoundError, match=r"no artifact type 'audio'.*available: dataset, model"):
        api.artifact_type("audio", "p")
    assert api.artifact_types("empty") == []


def test_projects_as_wandb_lists_them(api: wandb.Api) -> None:
    log("other", "x", project="q")
    projects = api.projects()
    assert [p.name for p in projects] == ["p", "q"] and [p.name for p in api.projects(entity="me")] == ["p", "q"]
    project = api.project("p", entity="me")
    assert (project.name, project.entity, project.path, repr(project)) == ("p", None, [None, "p"], "<Project p>")
    assert project.id == "p"
    assert [t.name for t in project.artifacts_types()] == ["dataset", "model"]
    assert [c.name for c in project.collections()] == ["data", "net"]
    # the Api's default project is still a name, used for addresses without one
    assert api.default_project == "p" and api.settings["project"] == "p" and api.artifact("data:v0").project == "p"
    with pytest.raises(ValidationError, match="project name"):
        api.project("bad/name")
    ghost = api.project("ghost")  # read lazily, as W&B's
    with pytest.raises(ArtifactNotFoundError, match="no project 'ghost'"):
        _ = ghost.id
    assert ghost.collections() == []


def test_quire_artifact_ls_lists_every_project(api: wandb.Api) -> None:
    log("other", "x", project="q")
    result = CliRunner().invoke(app, ["artifact", "ls"])
    assert result.exit_code == 0, result.output
    assert "p/data" in result.output and "p/net" in result.output and "q/other" in result.output
