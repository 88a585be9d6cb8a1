"""Objects and multipart uploads on disk, with an in-memory index for listings."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .wire import BUCKET_RE, UPLOAD_ID_RE, no_upload, write_json

__all__ = ["Store"]


class Store:
    """Objects on disk: ``root/<bucket>/objects/<sha256(key)>.json`` names its data file.

    Keys are hashed for file names (any key is safe and fits a file name); the sidecar JSON
    holds the original key and the metadata. Each write lands in ``tmp/``, is moved into
    place with a fresh data name, and is committed by replacing the JSON, so a reader never
    sees new data with old metadata and a crash leaves at most an orphan data file (swept
    at the next start). An in-memory index (loaded from the JSONs) answers listings.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._index: dict[str, dict[str, dict[str, Any]]] = {}

    def has_bucket(self, bucket: str) -> bool:
        return bool(BUCKET_RE.match(bucket)) and (self.root / bucket / "objects").is_dir()

    def create_bucket(self, bucket: str) -> None:
        for sub in ("objects", "uploads", "tmp"):
            (self.root / bucket / sub).mkdir(parents=True, exist_ok=True)
        write_json(self.root / bucket / "bucket.json", {"created": time.time()})

    def bucket_created(self, bucket: str) -> float:
        try:
            return float(json.loads((self.root / bucket / "bucket.json").read_text())["created"])
        except (OSError, ValueError, KeyError):
            return 0.0

    def drop_bucket(self, bucket: str) -> None:
        shutil.rmtree(self.root / bucket)
        self._index.pop(bucket, None)

    def buckets(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if self.has_bucket(p.name))

    def index(self, bucket: str) -> dict[str, dict[str, Any]]:
        idx = self._index.get(bucket)
        if idx is None:
            idx = self._index[bucket] = {}
            for meta_path in (self.root / bucket / "objects").glob("*.json"):
                meta = json.loads(meta_path.read_text())
                idx[meta["key"]] = meta
        return idx

    def recover(self) -> None:
        """At start (nothing in flight): drop temp files and data no metadata names."""
        for bucket in self.buckets():
            for p in (self.root / bucket / "tmp").glob("*"):
                p.unlink(missing_ok=True)
            referenced = {m["data"] for m in self.index(bucket).values()}
            for p in (self.root / bucket / "objects").glob("*.data"):
                if p.name not in referenced:
                    p.unlink(missing_ok=True)

    def temp(self, bucket: str) -> Path:
        return self.root / bucket / "tmp" / uuid.uuid4().hex

    def data_path(self, bucket: str, meta: Mapping[str, Any]) -> Path:
        return self.root / bucket / "objects" / str(meta["data"])

    def commit(self, bucket: str, key: str, tmp: Path, meta: dict[str, Any]) -> None:
        stem = hashlib.sha256(key.encode()).hexdigest()
        objects = self.root / bucket / "objects"
        idx = self.index(bucket)  # loaded before the write, so `old` is the previous version
        old = idx.get(key)
        meta = dict(meta, key=key, data=f"{stem}.{uuid.uuid4().hex[:12]}.data")
        os.replace(tmp, objects / meta["data"])
        write_json(objects / f"{stem}.json", meta)
        idx[key] = meta
        if old is not None:
            (objects / old["data"]).unlink(missing_ok=True)

    def delete(self, bucket: str, key: str) -> bool:
        old = self.index(bucket).pop(key, None)
        if old is None:
            return False
        stem = hashlib.sha256(key.encode()).hexdigest()
        (self.root / bucket / "objects" / f"{stem}.json").unlink(missing_ok=True)
        (self.root / bucket / "objects" / old["data"]).unlink(missing_ok=True)
        return True

    def upload_dir(self, bucket: str, upload_id: str) -> Path:
        return self.root / bucket / "uploads" / upload_id

    def upload(self, bucket: str, key: str, upload_id: str) -> dict[str, Any]:
        """The upload's record, or NoSuchUpload (also for a well-formed id of another key)."""
        if not UPLOAD_ID_RE.match(upload_id):
            raise no_upload(upload_id)
        try:
            record: dict[str, Any] = json.loads(
                (self.upload_dir(bucket, upload_id) / "upload.json").read_text())
        except (OSError, ValueError):
            raise no_upload(upload_id) from None
        if record.get("key") != key:
            raise no_upload(upload_id)
        return record

    def parts(self, bucket: str, upload_id: str) -> dict[int, dict[str, Any]]:
        out = {}
        for p in self.upload_dir(bucket, upload_id).glob("part-*.json"):
            meta = json.loads(p.read_text())
            out[int(meta["number"])] = meta
        return out

    def commit_part(self, bucket: str, upload_id: str, number: int, tmp: Path,
                    meta: dict[str, Any]) -> None:
        d = self.upload_dir(bucket, upload_id)
        meta = dict(meta, number=number, data=f"part-{number:05d}.{uuid.uuid4().hex[:12]}.data")
        old_path = d / f"part-{number:05d}.json"
        old = json.loads(old_path.read_text()) if old_path.exists() else None
        os.replace(tmp, d / meta["data"])
        write_json(old_path, meta)
        if old is not None:
            (d / old["data"]).unlink(missing_ok=True)
