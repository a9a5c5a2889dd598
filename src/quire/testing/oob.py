"""Out-of-band access to a backend's storage: reading and writing a key *behind* the
object store's back, with the storage's own tools (a file in the folder, an S3 client).

A suite that only goes through the store cannot tell a correct key mapping from a
symmetric bug (a store that files every key under one name, or under a hash of it,
reads back what it wrote); these helpers look where the key must be.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol


class OutOfBand(Protocol):
    """Keys of one object store, seen from outside it."""

    def read(self, key: str) -> bytes | None:
        """The bytes stored under ``key``, or None when nothing is."""
        ...

    def write(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key``, replacing what is there."""
        ...


class FolderOutOfBand:
    """A local-folder store's keys: the file ``<root>/<key>``."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def read(self, key: str) -> bytes | None:
        path = self.root / key
        return path.read_bytes() if path.is_file() else None

    def write(self, key: str, data: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


class S3OutOfBand:
    """An S3 store's keys: the objects ``<prefix>/<key>`` of its bucket, through boto3
    (the ``AWS_*`` variables configure it, as they do the store)."""

    def __init__(self, url: str, client: Any = None) -> None:
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        self.bucket, self.prefix = bucket, prefix.strip("/")
        if client is None:
            import boto3  # type: ignore[import-untyped, unused-ignore]  # a test dependency, not Quire's

            client = boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None)
        self.client = client

    def _name(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def read(self, key: str) -> bytes | None:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._name(key))["Body"]
        except self.client.exceptions.NoSuchKey:
            return None
        return bytes(body.read())

    def write(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._name(key), Body=data)


def for_url(url: str) -> OutOfBand | None:
    """The out-of-band helper for a built-in scheme's store at ``url`` (None for others)."""
    if url.startswith("file://"):
        return FolderOutOfBand(url.removeprefix("file://"))
    if url.startswith("s3://"):
        try:
            return S3OutOfBand(url)
        except ImportError:
            return None
    return None
