"""Settings: defaults, a generated secret kept in the data folder, bad values named in one line."""

from __future__ import annotations

import stat

import pytest

from core.config import load_settings
from core.errors import ConfigError


def test_defaults_use_sqlite_in_the_data_folder(tmp_path) -> None:
    s = load_settings(_env_file=None, data_dir=tmp_path / "d")
    assert s.sqlalchemy_url == f"sqlite:///{tmp_path / 'd' / 'sophia.db'}"
    assert s.redis_url is None and s.admin_user == "admin"


def test_secret_key_is_generated_once_and_kept_private(tmp_path) -> None:
    first = load_settings(_env_file=None, data_dir=tmp_path).signing_key()
    again = load_settings(_env_file=None, data_dir=tmp_path).signing_key()
    assert first == again and len(first) >= 32
    mode = (tmp_path / "secret_key").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600


def test_env_vars_are_read_with_the_prefix(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SOPHIA_DATA_DIR", str(tmp_path / "x"))
    monkeypatch.setenv("SOPHIA_DATABASE_URL", "postgres://u@h/db")
    s = load_settings(_env_file=None)
    assert s.data_dir == tmp_path / "x"
    assert s.sqlalchemy_url == "postgresql+psycopg://u@h/db"


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("database_url", "mysql://x", "SOPHIA_DATABASE_URL"),
        ("redis_url", "http://x", "SOPHIA_REDIS_URL"),
        ("secret_key", "short", "SOPHIA_SECRET_KEY"),
        ("secret_key", "a" * 40, "SOPHIA_SECRET_KEY"),
        ("log_level", "LOUD", "SOPHIA_LOG_LEVEL"),
        ("jwt_ttl_minutes", 0, "SOPHIA_JWT_TTL_MINUTES"),
    ],
)
def test_a_bad_setting_is_named_in_one_line(tmp_path, field, value, needle) -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(_env_file=None, data_dir=tmp_path, **{field: value})
    assert str(exc.value).startswith(needle) and "\n" not in str(exc.value)


def test_vector_backends_are_checked_with_their_settings(tmp_path) -> None:
    assert load_settings(_env_file=None, data_dir=tmp_path).vector_backend_names == ["embedded"]
    s = load_settings(
        _env_file=None, data_dir=tmp_path, vector_backends="Embedded, weaviate", weaviate_url="http://127.0.0.1:8080"
    )
    assert s.vector_backend_names == ["embedded", "weaviate"]
    with pytest.raises(ConfigError, match="^SOPHIA_VECTOR_BACKENDS: unknown backend 'milvus'"):
        load_settings(_env_file=None, data_dir=tmp_path, vector_backends="embedded,milvus")
    with pytest.raises(ConfigError, match="^SOPHIA_PINECONE_API_KEY is required"):
        load_settings(_env_file=None, data_dir=tmp_path, vector_backends="pinecone")
