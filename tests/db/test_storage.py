"""Object stores: the same cases on the local folder and on S3 (moto in server mode, real boto3),
plus what each must do on its own: atomic local writes and no escape from the root; S3 prefixes,
content types and an unusable bucket."""

from __future__ import annotations

import socket
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from core.config import Settings, load_settings
from core.errors import BackendUnavailable, InvalidInput, NotFound
from core.storage import LocalObjectStore, ObjectStore, make_object_store
from core.storage.local import STAGING_DIR
from core.storage.s3 import S3ObjectStore

BAD_KEYS = ["../escape.txt", "a/../../escape.txt", "/etc/passwd", "..", "", "a//b", "./a", "a\\b"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _settings(tmp_path: Path, **overrides: Any) -> Settings:
    return load_settings(_env_file=None, data_dir=tmp_path / "data", **overrides)


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on a free local port, with dummy credentials for boto3's usual chain."""
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.delenv("AWS_PROFILE", raising=False)
        yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3(s3_endpoint: str) -> Any:
    """A raw boto3 client, to check what really landed in the bucket."""
    return boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"sophia-test-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def _s3_settings(tmp_path: Path, endpoint: str, bucket: str, prefix: str = "sophia/") -> Settings:
    return _settings(tmp_path, s3_bucket=bucket, s3_prefix=prefix, s3_endpoint_url=endpoint)


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return make_object_store(_settings(tmp_path))
    endpoint = request.getfixturevalue("s3_endpoint")
    return make_object_store(_s3_settings(tmp_path, endpoint, request.getfixturevalue("bucket")))


# ---- the shared contract ----------------------------------------------------------------------


def test_put_then_get_round_trips(store: ObjectStore) -> None:
    assert store.put("reports/2024/q1.csv", b"a,b\n1,2\n", "text/csv") == "reports/2024/q1.csv"
    assert store.get("reports/2024/q1.csv") == b"a,b\n1,2\n"
    store.put("empty.bin", b"")
    assert store.get("empty.bin") == b""


def test_put_replaces(store: ObjectStore) -> None:
    store.put("note.txt", b"first")
    store.put("note.txt", b"second")
    assert store.get("note.txt") == b"second"


def test_missing_object_is_not_found(store: ObjectStore) -> None:
    with pytest.raises(NotFound):
        store.get("nope.txt")
    assert store.exists("nope.txt") is False


def test_delete_removes_and_tolerates_missing(store: ObjectStore) -> None:
    store.put("gone.txt", b"x")
    assert store.exists("gone.txt")
    store.delete("gone.txt")
    store.delete("gone.txt")
    assert not store.exists("gone.txt")
    assert store.list() == []


def test_list_filters_by_prefix_and_sorts(store: ObjectStore) -> None:
    for key in ["calls/b.json", "calls/a.json", "calls/2024/x.json", "deals/d.json", "calls.txt"]:
        store.put(key, b"{}")
    assert store.list("calls/") == ["calls/2024/x.json", "calls/a.json", "calls/b.json"]
    assert store.list("calls") == ["calls.txt", "calls/2024/x.json", "calls/a.json", "calls/b.json"]
    assert store.list("calls/2") == ["calls/2024/x.json"]
    assert store.list("nothing/") == []
    assert len(store.list()) == 5


def test_url_fetches_the_object(store: ObjectStore) -> None:
    store.put("share/me.txt", b"shared bytes", "text/plain")
    with urllib.request.urlopen(store.url_for("share/me.txt"), timeout=30) as reply:
        assert reply.read() == b"shared bytes"


@pytest.mark.parametrize("key", BAD_KEYS)
def test_keys_that_could_escape_are_refused(store: ObjectStore, key: str) -> None:
    with pytest.raises(InvalidInput):
        store.put(key, b"x")
    with pytest.raises(InvalidInput):
        store.get(key)
    with pytest.raises(InvalidInput):
        store.delete(key)
    assert store.list() == []


@pytest.mark.parametrize("prefix", ["../", "/", "a/../.."])
def test_list_refuses_escaping_prefixes(store: ObjectStore, prefix: str) -> None:
    with pytest.raises(InvalidInput):
        store.list(prefix)


# ---- the local folder -------------------------------------------------------------------------


def test_local_store_lives_under_files_dir(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    store = make_object_store(settings)
    assert isinstance(store, LocalObjectStore)
    store.put("docs/a.txt", b"hello")
    assert (settings.files_dir / "docs" / "a.txt").read_bytes() == b"hello"


def test_local_refusal_writes_nothing_outside_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root" / "files"
    store = LocalObjectStore(root)
    for key in ["../escape.txt", "../../escape.txt", "x/../../escape.txt", str(tmp_path / "abs.txt")]:
        with pytest.raises(InvalidInput):
            store.put(key, b"x")
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == []


def test_local_symlink_out_of_the_root_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret")
    store = LocalObjectStore(tmp_path / "files")
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(InvalidInput):
        store.get("link/secret.txt")
    with pytest.raises(InvalidInput):
        store.put("link/new.txt", b"x")
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


def test_local_writes_leave_no_temp_files(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "files")
    for n in range(5):
        store.put("same.txt", f"version {n}".encode())
    assert store.get("same.txt") == b"version 4"
    assert store.list() == ["same.txt"]
    assert list((tmp_path / "files" / STAGING_DIR).iterdir()) == []
    with pytest.raises(InvalidInput):
        store.put(f"{STAGING_DIR}/x", b"x")


def test_local_failed_write_keeps_the_old_object(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "files")
    store.put("folder/inside.txt", b"kept")
    with pytest.raises(InvalidInput):
        store.put("folder", b"would replace a folder")
    assert store.get("folder/inside.txt") == b"kept"
    assert list((tmp_path / "files" / STAGING_DIR).iterdir()) == []


# ---- S3 ---------------------------------------------------------------------------------------


def test_s3_objects_land_under_the_prefix_with_their_type(
    tmp_path: Path, s3_endpoint: str, bucket: str, s3: Any
) -> None:
    store = make_object_store(_s3_settings(tmp_path, s3_endpoint, bucket, prefix="/tenant-a/"))
    assert isinstance(store, S3ObjectStore)
    store.put("calls/1.json", b"{}", "application/json")
    head = s3.head_object(Bucket=bucket, Key="tenant-a/calls/1.json")
    assert head["ContentType"] == "application/json"
    assert store.list() == ["calls/1.json"]


def test_s3_prefixes_keep_stores_apart(tmp_path: Path, s3_endpoint: str, bucket: str) -> None:
    a = make_object_store(_s3_settings(tmp_path, s3_endpoint, bucket, prefix="a"))
    b = make_object_store(_s3_settings(tmp_path, s3_endpoint, bucket, prefix="ab"))
    a.put("x.txt", b"from a")
    assert b.list() == [] and not b.exists("x.txt")
    with pytest.raises(NotFound):
        b.get("x.txt")


def test_s3_list_pages_past_one_thousand(tmp_path: Path, s3_endpoint: str, bucket: str, s3: Any) -> None:
    for n in range(1005):
        s3.put_object(Bucket=bucket, Key=f"many/{n:04d}", Body=b"")
    store = make_object_store(_s3_settings(tmp_path, s3_endpoint, bucket, prefix=""))
    assert store.list("many/") == [f"many/{n:04d}" for n in range(1005)]


def test_s3_missing_bucket_is_unavailable(tmp_path: Path, s3_endpoint: str) -> None:
    store = make_object_store(_s3_settings(tmp_path, s3_endpoint, "no-such-bucket-here"))
    with pytest.raises(BackendUnavailable, match="no-such-bucket-here"):
        store.put("a.txt", b"x")
    with pytest.raises(BackendUnavailable):
        store.get("a.txt")
    with pytest.raises(BackendUnavailable):
        store.list()


def test_s3_unreachable_endpoint_is_unavailable(tmp_path: Path, s3_endpoint: str) -> None:
    dead = f"http://127.0.0.1:{_free_port()}"
    store = make_object_store(_s3_settings(tmp_path, dead, "any-bucket"))
    with pytest.raises(BackendUnavailable, match="cannot be reached"):
        store.get("a.txt")
