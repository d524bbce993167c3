"""Settings, read from ``CREDITBANK_*`` environment variables (pydantic-settings)."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET_KEY = "dev-only-insecure-secret-key-change-me"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./var/creditbank.db"


class LrsSettings(BaseModel):
    """The xAPI learning record store."""

    default_limit: int = 100
    max_limit: int = 1000
    max_batch: int = 1000
    max_depth: int = 32
    # Documents (state, profiles) and attachments.
    max_document_bytes: int = 8 * 1024 * 1024
    max_attachment_bytes: int = 32 * 1024 * 1024
    # The version an xAPI answer states when the request names none we speak (errors).
    default_version: Literal["1.0.3", "2.0.0"] = "2.0.0"
    # Serve 2.0 statements to 1.0.3 readers without the 2.0-only properties.
    strict_version: bool = False
    # A statement whose mbox/openid actor is a learner linked through another
    # institution: "refuse" (403) or "hold" (stored, recognition parked for the operator).
    foreign_ifi: Literal["refuse", "hold"] = "refuse"


class WorkerSettings(BaseModel):
    """The durable job table and the workers draining it."""

    # None: run an in-process worker when the database is SQLite (one writer anyway).
    in_process: bool | None = None
    poll_interval_seconds: float = 0.5
    lease_seconds: int = 60
    max_attempts: int = 8
    backoff_base_seconds: float = 2.0
    batch_size: int = 200
    # What a worker sharing its process's SQLite write gate claims while requests are
    # writing (the gate held when it claims): its batch holds the gate for the whole
    # batch, so a short one lets queued statement POSTs through sooner; recognition
    # catches up with full batches once ingest pauses.
    contended_batch_size: int = 25


class IdentitySettings(BaseModel):
    """Sign-in, tokens, lockout and consent codes (identity context)."""

    issuer: str = "creditbank"
    access_token_ttl_seconds: int = Field(default=900, ge=30)
    client_token_ttl_seconds: int = Field(default=3600, ge=30)
    refresh_token_ttl_seconds: int = Field(default=14 * 24 * 3600, ge=60)
    # Lockout: this many failed passwords in a row lock the user for lockout_seconds.
    max_failed_logins: int = Field(default=5, ge=1)
    lockout_seconds: int = Field(default=900, ge=1)
    # Rate limit: at most this many login attempts per client address per window.
    login_rate_limit: int = Field(default=30, ge=1)
    login_rate_window_seconds: int = Field(default=300, ge=1)
    # LRS credentials (xAPI Basic, /oauth/token): failed secrets per address, and per
    # address + key, in the window, before that address waits (429, Retry-After).
    credential_failures_per_address: int = Field(default=30, ge=1)
    credential_failures_per_key: int = Field(default=10, ge=1)
    credential_failure_window_seconds: int = Field(default=300, ge=1)
    # Public transcript verification (POST /api/v1/verify, no login): requests per
    # client address per window before it waits (429, Retry-After).
    verify_rate_limit: int = Field(default=60, ge=1)
    verify_rate_window_seconds: int = Field(default=60, ge=1)
    password_min_length: int = Field(default=10, ge=8)
    consent_code_ttl_seconds: int = Field(default=900, ge=30)
    # A verified LRS credential is trusted this long per process without a query
    # (0: off); a credential revoked elsewhere stops working within this time.
    credential_cache_seconds: float = Field(default=5.0, ge=0, le=300)
    # argon2id cost; None: RFC 9106 low-memory profile (t=3, 64 MiB), cheap under env=test.
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int | None = Field(default=None, ge=1024)


class SecuritySettings(BaseModel):
    """Where the identity keys live: field encryption keyring and access-token signing keys."""

    # Default: <key_dir>/keyring.json and <key_dir>/access-token-keys.json.
    keyring_path: Path | None = None
    token_keys_path: Path | None = None
    # None: generate missing keys outside production; production refuses to start without them.
    generate_missing_keys: bool | None = None
    # None: Secure cookies in production only.
    cookie_secure: bool | None = None
    cookie_samesite: Literal["lax", "strict"] = "strict"
    # The portal's sign-in ends after this long without a request (idle expiry).
    portal_idle_seconds: int = Field(default=30 * 60, ge=60)


class RulesSettings(BaseModel):
    """Recognition and accumulation: which standards are in force, who posts."""

    # Restrict "the standards in force" to one set id (None: any published set).
    standards_set: str | None = None
    # Actor recorded on ledger entries the rules engine writes.
    actor: str = "system:rules"
    # Outcomes expired per sweep transaction.
    expiry_batch: int = 500


class LedgerSettings(BaseModel):
    """The credit ledger (checkpoints are scheduled hourly in workers/scheduler.py)."""

    # Checkpoint signing key file name inside key_dir (Ed25519, with kid, rotatable).
    checkpoint_key_file: str = "ledger-checkpoint-keys.json"


class ConversionSettings(BaseModel):
    """Conversion applications: four eyes, webhooks to target institutions."""

    # Applications for more target credits than this need two different certifiers.
    four_eyes_above: Decimal = Decimal("5.0")
    # Target institution key -> URL receiving signed decision webhooks.
    webhooks: dict[str, str] = Field(default_factory=dict)
    # HMAC-SHA256 key of the X-Creditbank-Signature header (None: derived from secret_key).
    webhook_secret: SecretStr | None = None
    webhook_timeout_seconds: float = 10.0


class MetricsSettings(BaseModel):
    """``/metrics`` (Prometheus text format): who may read it.

    The operator (a signed-in operator's bearer access token) always may; a scraper
    may with ``token`` (``CREDITBANK_METRICS__TOKEN``) as its bearer token. Nobody
    else: with no token set, an anonymous scrape gets 401, so the default leaks nothing.
    """

    token: SecretStr | None = None


class WebhookSettings(BaseModel):
    """Institutions' outgoing webhooks (creditbank.webhooks), delivered by the worker."""

    #: A receiver that does not answer within this is a failed attempt (the worker moves on).
    timeout_seconds: float = 5.0
    #: Attempts per delivery before it is dead (replayable from its log).
    max_attempts: int = Field(default=8, ge=1)
    #: Wait before the second attempt; doubled for each further one (capped at an hour).
    backoff_base_seconds: float = 10.0
    #: Webhook and forwarding URLs on loopback, private, link-local, multicast or
    #: reserved addresses, and plain http (creditbank.webhooks.targets). None: allowed
    #: outside production (local receivers on 127.0.0.1), refused in production.
    allow_private_targets: bool | None = None


class TranscriptSettings(BaseModel):
    """Signed transcripts (creditbank.transcripts)."""

    #: The JOSE algorithm VC-JWTs are signed with (issuer keys: transcript-issuer).
    algorithm: Literal["RS256", "ES256", "EdDSA"] = "RS256"
    #: Transcripts expire this many days after issue (None: no validUntil).
    valid_days: int | None = Field(default=None, ge=1)
    #: The status lists' ``ttl`` (and ``Cache-Control: max-age``) at ``/status/{list}``.
    status_ttl_seconds: int = Field(default=300, ge=1)
    #: Also sign each VC-JWT's signing input with SM2/SM3 (商用密码; a detached proof
    #: ``sm2`` beside it, key in the transcript-issuer set): CREDITBANK_TRANSCRIPTS__SM2.
    sm2: bool = False


class Settings(BaseSettings):
    """All configuration; nested models read ``CREDITBANK_LRS__MAX_LIMIT`` etc."""

    model_config = SettingsConfigDict(
        env_prefix="CREDITBANK_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    env: Literal["dev", "test", "prod"] = "dev"
    debug: bool = False
    database_url: str = DEFAULT_DATABASE_URL
    database_pool_size: int = 10
    # A PostgreSQL hot standby of database_url serving the reads that may lag (statement
    # GETs, balances, dashboards; docs/scaling.md). None: every read on the primary.
    read_database_url: str | None = None
    # The standby's pool (None: database_pool_size).
    read_database_pool_size: int | None = Field(default=None, ge=1)
    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    # /docs, /redoc and /openapi.json; None: served outside production, off in prod.
    api_docs: bool | None = None
    # Addresses (or CIDR networks) of reverse proxies whose X-Forwarded-For /
    # X-Forwarded-Proto are believed; empty: none (the peer address is the client).
    trusted_proxies: list[str] = Field(default_factory=list)
    # Request headers: more of them, or more bytes of them, get 431.
    max_headers: int = Field(default=100, ge=10)
    max_header_bytes: int = Field(default=32 * 1024, ge=4096)
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET_KEY)
    # Where generated keys (signing, encryption) live in development.
    key_dir: Path = Path("./var/keys")
    log_level: str = "INFO"
    # Migrate at start-up when the database is the embedded SQLite default.
    auto_migrate: bool = True
    public_base_url: str | None = None
    lrs: LrsSettings = LrsSettings()
    worker: WorkerSettings = WorkerSettings()
    rules: RulesSettings = RulesSettings()
    identity: IdentitySettings = IdentitySettings()
    security: SecuritySettings = SecuritySettings()
    ledger: LedgerSettings = LedgerSettings()
    conversions: ConversionSettings = ConversionSettings()
    transcripts: TranscriptSettings = TranscriptSettings()
    webhooks: WebhookSettings = WebhookSettings()
    metrics: MetricsSettings = MetricsSettings()

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.env == "prod":
            problems = []
            if self.secret_key.get_secret_value() == DEFAULT_SECRET_KEY:
                problems.append("CREDITBANK_SECRET_KEY is the development default")
            if len(self.secret_key.get_secret_value()) < 32:
                problems.append("CREDITBANK_SECRET_KEY is shorter than 32 characters")
            if self.debug:
                problems.append("CREDITBANK_DEBUG is on")
            if problems:
                raise ValueError("refusing to start in production: " + "; ".join(problems))
        return self

    @model_validator(mode="after")
    def _read_replica_is_postgresql(self) -> Settings:
        if not self.read_database_url:  # unset, or set to nothing
            self.read_database_url = None
        elif not (
            self.read_database_url.startswith("postgresql")
            and self.database_url.startswith("postgresql")
        ):
            raise ValueError(
                "CREDITBANK_READ_DATABASE_URL needs PostgreSQL for it and for"
                " CREDITBANK_DATABASE_URL (a hot standby of that primary)"
            )
        return self

    @property
    def api_docs_enabled(self) -> bool:
        return self.api_docs if self.api_docs is not None else self.env != "prod"

    @property
    def private_targets_allowed(self) -> bool:
        """May the worker send webhooks and forwarded statements to non-public addresses
        (and over plain http)? ``webhooks.allow_private_targets``; by default not in prod."""
        if self.webhooks.allow_private_targets is not None:
            return self.webhooks.allow_private_targets
        return self.env != "prod"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def run_worker_in_process(self) -> bool:
        if self.worker.in_process is not None:
            return self.worker.in_process
        return self.is_sqlite


@lru_cache
def get_settings() -> Settings:
    """Settings for production entry points; tests build their own ``Settings``."""
    return Settings()
