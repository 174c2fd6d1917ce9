"""The ``stores:`` section of ``mmagent.yaml``: where state and artifacts live.

>>> StoresConfig.model_validate({"state": {"backend": "postgres",
...                                        "dsn": "postgresql://u@db:5432/mmagent"}}).state.backend
'postgres'
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mmagent.errors import ConfigError

__all__ = ["StoresConfig", "StateStoreConfig", "ArtifactStoreConfig"]


class StateStoreConfig(BaseModel):
    """Runs, LangGraph checkpoints, the result cache, artifact ownership and run events."""

    model_config = ConfigDict(extra="forbid")

    backend: Literal["sqlite", "postgres"] = Field(
        "sqlite", description="sqlite: files under cache_dir (one machine); postgres: one "
        "database every server replica and node shares")
    dsn: str | None = Field(None, description="postgres: postgresql://user@host:port/db "
                            "(prefer dsn_env when it holds a password)")
    dsn_env: str = Field("MMAGENT_POSTGRES_DSN", description="postgres: variable holding the "
                         "DSN when dsn is not set")

    @field_validator("dsn")
    @classmethod
    def _dsn_shape(cls, dsn: str | None) -> str | None:
        if dsn is not None and not dsn.startswith(("postgresql://", "postgres://")):
            raise ValueError("expected a postgresql://user@host:port/database URL")
        return dsn

    def postgres_dsn(self) -> str:
        """The DSN (from ``dsn`` or ``dsn_env``); ConfigError naming the keys if neither."""
        dsn = self.dsn or os.environ.get(self.dsn_env)
        if not dsn:
            raise ConfigError(f"stores.state.backend is postgres, but neither stores.state.dsn "
                              f"nor ${self.dsn_env} (stores.state.dsn_env) is set; expected a "
                              "postgresql://user@host:port/database URL", key="stores.state.dsn")
        return dsn


class ArtifactStoreConfig(BaseModel):
    """Where media bytes live. ``local``: ``store_dir`` only. ``s3``: an S3-compatible bucket,
    with ``store_dir`` as this machine's cache of materialised files."""

    model_config = ConfigDict(extra="forbid")

    backend: Literal["local", "s3"] = Field("local", description="local directory, or an "
                                            "S3-compatible bucket (AWS S3, MinIO, SeaweedFS, ...)")
    bucket: str | None = Field(None, description="s3: the bucket (it must exist)")
    prefix: str = Field("mmagent/", description="s3: key prefix of every object")
    endpoint_url: str | None = Field(None, description="s3: endpoint of a non-AWS service, "
                                     "e.g. http://127.0.0.1:8333; None = AWS")
    region: str | None = Field(None, description="s3: region; None = the SDK's default")
    access_key_env: str = Field("AWS_ACCESS_KEY_ID", description="s3: variable holding the "
                                "access key (unset: the SDK's usual credential chain)")
    secret_key_env: str = Field("AWS_SECRET_ACCESS_KEY", description="s3: variable holding "
                                "the secret key")

    @model_validator(mode="after")
    def _bucket_for_s3(self) -> ArtifactStoreConfig:
        if self.backend == "s3" and not self.bucket:
            raise ValueError("got backend s3 without a bucket; expected stores.artifacts.bucket")
        return self


class StoresConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: StateStoreConfig = Field(default_factory=StateStoreConfig)
    artifacts: ArtifactStoreConfig = Field(default_factory=ArtifactStoreConfig)
