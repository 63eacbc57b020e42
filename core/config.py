"""One settings object for every process, built once and validated at start-up.

Every value comes from an environment variable prefixed ``SOPHIA_`` (or a ``.env`` file in the
working directory). Nothing else in the code base reads ``os.environ`` for configuration.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import ConfigError

SECRET_KEY_FILE = "secret_key"
MIN_SECRET_KEY_LENGTH = 32
VECTOR_BACKENDS = ("embedded", "pinecone", "weaviate")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SOPHIA_", env_file=".env", env_file_encoding="utf-8", extra="ignore")

    env: Literal["development", "production", "test"] = "development"
    data_dir: Path = Path("./data")
    database_url: str | None = None
    redis_url: str | None = None
    secret_key: str | None = Field(default=None, repr=False)

    admin_user: str = "admin"
    admin_password: str | None = Field(default=None, repr=False)

    # object store: a local folder under the data dir unless an S3 bucket is named
    s3_bucket: str | None = None
    s3_prefix: str = ""
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"

    jwt_ttl_minutes: int = Field(default=60, ge=1, le=60 * 24 * 30)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool | None = None  # None: JSON when stderr is not a terminal

    cookie_expiry_days: float = Field(default=1.0, gt=0, le=90)

    # the scheduler's heartbeat: how often the jobs process records it, and how old it may get before the
    # scheduler counts as down (/readyz fails; the jobs process's watchdog exits so its supervisor restarts it)
    heartbeat_interval_s: float = Field(default=30.0, gt=0, le=3600)
    heartbeat_stale_s: float = Field(default=180.0, gt=0, le=24 * 3600)
    # whether /readyz requires a fresh heartbeat; unset: once a scheduler has recorded one in this database
    scheduler_required: bool | None = None
    # retention (the retention job): job runs kept this many days; insights resolved longer ago than this deleted
    job_runs_keep_days: int = Field(default=30, ge=1, le=3650)
    insights_keep_days: int = Field(default=180, ge=1, le=3650)

    # long-term memory (core/memory): a memory neither recalled nor added in this many days is deleted by the
    # retention job (0: never); whether an LLM extracts the facts of what is remembered (needs an LLM configured);
    # the longest text one memory may hold
    memory_decay_days: int = Field(default=180, ge=0, le=36500)
    memory_infer: bool | None = None  # None: extract facts by LLM when an OpenAI-compatible model is configured
    memory_max_chars: int = Field(default=2000, ge=1, le=100_000)

    # search: vector backends kept in sync from the chunks table
    vector_backends: str = "embedded"  # comma list of embedded, pinecone, weaviate
    pinecone_api_key: str | None = Field(default=None, repr=False)
    pinecone_index: str | None = None
    pinecone_host: str | None = None  # the index's data-plane URL: no control-plane call needed when set
    pinecone_control_url: str | None = None  # the control plane, when not Pinecone's public API (tests, proxies)
    weaviate_url: str | None = None
    weaviate_grpc_port: int = Field(default=50051, ge=1, le=65535)
    weaviate_api_key: str | None = Field(default=None, repr=False)

    # search: the embedding model (the local all-MiniLM-L6-v2 unless a provider is chosen; changing it
    # re-embeds every chunk on the next indexing run)
    embedding_provider: Literal["local", "openai"] = "local"
    embedding_model: str = "text-embedding-3-small"  # the provider's model
    embedding_api_key: str | None = Field(default=None, repr=False)
    embedding_base_url: str | None = None  # an OpenAI-compatible server: Azure OpenAI v1, Ollama, vLLM, LiteLLM
    embedding_dimensions: int | None = Field(default=None, ge=8, le=8192)  # for models that can shorten theirs

    # delivery to Slack (core/notify): the bot token (or env:VARIABLE naming where it is), the Web API's base URL
    # (None: slack_sdk's public https://slack.com/api/; tests point it at a local server), the address links in
    # messages open (this installation's app), and when digests may go out
    slack_bot_token: str | None = Field(default=None, repr=False)
    slack_api_url: str | None = None
    public_url: str = "http://localhost:8501"
    notify_timezone: str = "America/Chicago"
    business_hours: str = "08:00-18:00"  # local time in notify_timezone, Monday to Friday

    # Ask Sophia (core/agents): a language model for the CrewAI crew; unset, the offline engine answers.
    # SOPHIA_LLM_MODEL as CrewAI names it ("openai/gpt-4o-mini", "anthropic/claude-…", "ollama/llama3.1"); a
    # base URL makes any OpenAI-compatible server usable. Prices per million tokens give each answer's cost;
    # a user's answers stop politely once their month's cost reaches the budget (0 = no budget).
    llm_model: str | None = None
    llm_base_url: str | None = None
    llm_api_key: str | None = Field(default=None, repr=False)
    llm_timeout_s: float = Field(default=120.0, gt=0, le=3600)
    llm_price_prompt_per_m: float = Field(default=0.0, ge=0)
    llm_price_completion_per_m: float = Field(default=0.0, ge=0)
    llm_monthly_budget_usd: float = Field(default=20.0, ge=0)
    ask_max_question_chars: int = Field(default=2000, ge=10, le=20000)

    @field_validator("slack_bot_token")
    @classmethod
    def _check_slack_token(cls, v: str | None) -> str | None:
        if v in (None, ""):
            return None
        if v.startswith("env:") and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", v.removeprefix("env:")):
            raise ValueError("env:VARIABLE must name an environment variable (letters, digits, _)")
        return v

    @field_validator("slack_api_url", "public_url")
    @classmethod
    def _check_http_url(cls, v: str | None) -> str | None:
        if v in (None, ""):
            return None
        if not v.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return v

    @field_validator("public_url", mode="after")
    @classmethod
    def _strip_public_url(cls, v: str | None) -> str:
        return (v or "http://localhost:8501").rstrip("/")

    @field_validator("notify_timezone")
    @classmethod
    def _check_timezone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (an IANA name such as America/Chicago)") from None
        return v

    @field_validator("business_hours")
    @classmethod
    def _check_business_hours(cls, v: str) -> str:
        match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", v)
        if match is None:
            raise ValueError("expected HH:MM-HH:MM, e.g. 08:00-18:00")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if not (h1 < 24 and h2 <= 24 and m1 < 60 and m2 < 60 and (h2 < 24 or m2 == 0)):
            raise ValueError("hours are 00:00 to 24:00")
        if (h1, m1) >= (h2, m2):
            raise ValueError("the opening must come before the closing")
        return f"{h1:02d}:{m1:02d}-{h2:02d}:{m2:02d}"

    @field_validator("embedding_base_url")
    @classmethod
    def _check_embedding_url(cls, v: str | None) -> str | None:
        if v in (None, ""):
            return None
        if not v.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL (the API's base, e.g. http://localhost:11434/v1)")
        return v.rstrip("/")

    @model_validator(mode="after")
    def _check_embedding_settings(self) -> Settings:
        if self.embedding_provider == "openai" and not (self.embedding_api_key or self.embedding_base_url):
            raise ValueError(
                "SOPHIA_EMBEDDING_API_KEY is required when SOPHIA_EMBEDDING_PROVIDER=openai "
                "(or SOPHIA_EMBEDDING_BASE_URL, for a server that needs no key)"
            )
        return self

    @model_validator(mode="after")
    def _check_heartbeat(self) -> Settings:
        if self.heartbeat_stale_s <= self.heartbeat_interval_s:
            raise ValueError("SOPHIA_HEARTBEAT_STALE_S must be longer than SOPHIA_HEARTBEAT_INTERVAL_S")
        return self

    @field_validator("vector_backends")
    @classmethod
    def _check_backends(cls, v: str) -> str:
        names = [n.strip().lower() for n in v.split(",") if n.strip()]
        unknown = sorted(set(names) - set(VECTOR_BACKENDS))
        if unknown:
            raise ValueError(f"unknown backend {unknown[0]!r}; expected a comma list of {', '.join(VECTOR_BACKENDS)}")
        if not names:
            raise ValueError("name at least one backend (embedded is the default)")
        return ",".join(dict.fromkeys(names))

    @model_validator(mode="after")
    def _check_backend_settings(self) -> Settings:
        wanted = self.vector_backend_names
        if "pinecone" in wanted and not self.pinecone_api_key:
            raise ValueError("SOPHIA_PINECONE_API_KEY is required when pinecone is in SOPHIA_VECTOR_BACKENDS")
        if "pinecone" in wanted and not (self.pinecone_host or self.pinecone_index):
            raise ValueError("SOPHIA_PINECONE_HOST or SOPHIA_PINECONE_INDEX is required for pinecone")
        if "weaviate" in wanted and not self.weaviate_url:
            raise ValueError("SOPHIA_WEAVIATE_URL is required when weaviate is in SOPHIA_VECTOR_BACKENDS")
        return self

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, v: object) -> object:
        return v.upper() if isinstance(v, str) else v

    @field_validator("database_url")
    @classmethod
    def _check_db_url(cls, v: str | None) -> str | None:
        if v in (None, ""):
            return None
        scheme = v.split("://", 1)[0] if "://" in v else ""
        if scheme.startswith("postgres"):
            # one driver everywhere: psycopg 3
            rest = v.split("://", 1)[1]
            return f"postgresql+psycopg://{rest}"
        if scheme.startswith("sqlite"):
            return v
        raise ValueError("must be a sqlite:/// or postgresql:// URL")

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, v: str | None) -> str | None:
        if v in (None, ""):
            return None
        if not v.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis:// or rediss:// URL")
        return v

    @field_validator("secret_key")
    @classmethod
    def _check_secret(cls, v: str | None) -> str | None:
        if v in (None, ""):
            return None
        if len(v) < MIN_SECRET_KEY_LENGTH:
            raise ValueError(f"must be at least {MIN_SECRET_KEY_LENGTH} characters")
        if v.lower() in {"changeme", "secret", "change-me"} or len(set(v)) < 8:
            raise ValueError("looks like a placeholder; use a random value")
        return v

    @model_validator(mode="after")
    def _resolve_paths(self) -> Settings:
        self.data_dir = self.data_dir.expanduser().resolve()
        return self

    # ---- derived values -------------------------------------------------------------------
    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'sophia.db'}"

    @property
    def vector_backend_names(self) -> list[str]:
        return self.vector_backends.split(",")

    @property
    def is_sqlite(self) -> bool:
        return self.sqlalchemy_url.startswith("sqlite")

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    def ensure_data_dir(self) -> None:
        try:
            self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # private: records, keys, users
        except OSError as exc:
            raise ConfigError(f"SOPHIA_DATA_DIR: cannot create {self.data_dir}: {exc.strerror}") from exc

    def signing_key(self) -> str:
        """The secret key: the setting, or one generated once and kept in the data folder."""
        if self.secret_key:
            return self.secret_key
        self.ensure_data_dir()
        path = self.data_dir / SECRET_KEY_FILE
        if not path.exists():
            key = secrets.token_urlsafe(48)
            # create with 0600 and never overwrite a key another process wrote first
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "w") as fh:
                    fh.write(key)
        key = path.read_text().strip()
        if len(key) < MIN_SECRET_KEY_LENGTH:
            raise ConfigError(f"SOPHIA_SECRET_KEY: the key in {path} is too short; delete it to regenerate")
        self.secret_key = key
        return key

    def derived_key(self, purpose: str) -> str:
        """A key for one purpose (e.g. the app's sign-in cookie), derived from the secret key, so a
        value signed for one purpose is never valid for another."""
        return hmac.new(self.signing_key().encode(), purpose.encode(), hashlib.sha256).hexdigest()

    def child_env(self) -> dict[str, str]:
        """Environment for processes started by ``sophia up``: same data dir, same secret."""
        env = dict(os.environ)
        env["SOPHIA_DATA_DIR"] = str(self.data_dir)
        env["SOPHIA_SECRET_KEY"] = self.signing_key()
        return env


def _first_error_line(exc: ValidationError) -> str:
    err = exc.errors()[0]
    msg = err.get("msg", "invalid value").removeprefix("Value error, ")
    if not err.get("loc"):  # a rule across settings: its message names them
        return msg
    return f"SOPHIA_{str(err['loc'][0]).upper()}: {msg}"


def load_settings(**overrides: object) -> Settings:
    """Build and validate settings; a bad value raises ConfigError naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(_first_error_line(exc)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
