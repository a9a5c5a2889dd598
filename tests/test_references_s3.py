"""``add_reference("s3://bucket/key-or-prefix")`` as W&B: ETag and version id recorded,
prefixes listed within ``max_objects``, the recorded version downloaded, a changed
object reported instead of delivered."""

from __future__ import annotations

from pathlib import Path

import pytest

import quire
from quire.errors import StoreError, ValidationError

pytestmark = [pytest.mark.s3, pytest.mark.usefixtures("store_kind")]


@pytest.fixture
def bucket(s3_client, s3_bucket: str) -> str:  # type: ignore[no-untyped-def]
    """A bucket with versioning on, holding ``data/`` (3 objects) and ``data2/x``."""
    s3_client.put_bucket_versioning(Bucket=s3_bucket, VersioningConfiguration={"Status": "Enabled"})
    for key, body in {
        "data/a.txt": b"alpha",
        "data/sub/b.txt": b"beta",
        "data/c.txt": b"gamma",
        "data2/x.txt": b"not in data/",
    }.items():
        s3_client.put_object(Bucket=s3_bucket, Key=key, Body=body)
    return s3_bucket


def _log(uri: str, **kwargs: object) -> quire.Artifact:
    with quire.init() as run:
        art = quire.Artifact("refs", "dataset")
        art.add_reference(uri, **kwargs)
        run.log_artifact(art)
    return quire.Api().artifact("refs:latest")


def test_an_object_is_recorded_with_etag_and_version_and_downloaded_by_version(
    bucket: str,
    s3_client,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    head = s3_client.head_object(Bucket=bucket, Key="data/a.txt")
    art = _log(f"s3://{bucket}/data/a.txt")
    entry = art.get_entry("a.txt")
    assert entry.ref == f"s3://{bucket}/data/a.txt" and entry.size == 5
    assert entry.extra == {"etag": head["ETag"].strip('"'), "versionID": head["VersionId"]}
    s3_client.put_object(Bucket=bucket, Key="data/a.txt", Body=b"overwritten")
    root = Path(art.download(tmp_path / "out"))
    assert (root / "a.txt").read_bytes() == b"alpha"  # the logged version, not today's


def test_a_prefix_is_listed_under_the_name(bucket: str, tmp_path: Path) -> None:
    art = _log(f"s3://{bucket}/data", name="ds")
    assert sorted(art.manifest.entries) == ["ds/a.txt", "ds/c.txt", "ds/sub/b.txt"]
    assert all("versionID" in e.extra for e in art.manifest)
    root = Path(art.download(tmp_path / "out"))
    assert (root / "ds/sub/b.txt").read_bytes() == b"beta"


def test_same_objects_give_the_same_digest(bucket: str) -> None:
    first = _log(f"s3://{bucket}/data/")
    second = _log(f"s3://{bucket}/data")
    assert second.version == first.version == "v0"


def test_more_objects_than_max_objects_is_an_error(bucket: str) -> None:
    art = quire.Artifact("refs", "dataset")
    with pytest.raises(ValidationError, match="more than max_objects=2"):
        art.add_reference(f"s3://{bucket}/data", max_objects=2)
    assert len(art.manifest) == 0
    art.add_reference(f"s3://{bucket}/data", max_objects=3)
    assert len(art.manifest) == 3


def test_an_empty_prefix_is_an_error(bucket: str) -> None:
    art = quire.Artifact("refs", "dataset")
    with pytest.raises(ValidationError, match="names nothing"):
        art.add_reference(f"s3://{bucket}/nothing/here")


def test_a_changed_object_without_versioning_is_reported_not_fetched(
    s3_client,
    s3_bucket: str,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    s3_client.put_object(Bucket=s3_bucket, Key="model.bin", Body=b"v1 weights")
    art = _log(f"s3://{s3_bucket}/model.bin")
    assert "versionID" not in art.get_entry("model.bin").extra
    assert (Path(art.download(tmp_path / "ok")) / "model.bin").read_bytes() == b"v1 weights"
    s3_client.put_object(Bucket=s3_bucket, Key="model.bin", Body=b"v2 weights")
    with pytest.raises(StoreError, match=rf"s3://{s3_bucket}/model.bin changed"):
        art.download(tmp_path / "changed")
    assert not (tmp_path / "changed" / "model.bin").exists()


def test_a_deleted_version_is_reported_or_skipped_on_request(bucket: str, s3_client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    art = _log(f"s3://{bucket}/data/c.txt")
    version = art.get_entry("c.txt").extra["versionID"]
    s3_client.delete_object(Bucket=bucket, Key="data/c.txt", VersionId=version)
    with pytest.raises(StoreError, match=f"version {version} of .* no longer exists"):
        art.download(tmp_path / "out")
    art.download(tmp_path / "out2", allow_missing_references=True)
    assert not (tmp_path / "out2" / "c.txt").exists()


def test_without_checksum_nothing_is_read_and_the_current_bytes_download(
    bucket: str,
    s3_client,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    art = _log(f"s3://{bucket}/data", checksum=False)
    (entry,) = art.manifest
    assert (entry.path, entry.size) == ("data", None)
    s3_client.put_object(Bucket=bucket, Key="data/a.txt", Body=b"today")
    root = Path(art.download(tmp_path / "out"))
    assert (root / "data" / "a.txt").read_bytes() == b"today"
    assert (root / "data" / "sub" / "b.txt").read_bytes() == b"beta"
