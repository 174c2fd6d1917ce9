"""Artifacts in S3-compatible object storage (AWS S3, MinIO, SeaweedFS, Ceph, R2, ...).

Why boto3: it is the reference S3 client, maintained by AWS, and speaks to any S3-compatible
service through ``endpoint_url``; its clients are thread-safe, and its credential chain
(variables, profiles, instance roles) is what operators already configure. obstore is faster
but younger; s3fs adds fsspec and aiobotocore layers that content-addressed puts and gets do
not need.

:class:`S3Objects` is the small object interface :class:`~mmagent.ArtifactStore`
uses when ``stores.artifacts.backend`` is ``s3``: bytes and metadata go to the bucket under
``prefix``, and the store's local directory becomes this machine's cache of materialised files.

>>> objects = S3Objects("my-bucket", endpoint_url="http://127.0.0.1:8333")  # doctest: +SKIP
>>> objects.put("objects/ab/abc.png", b"...")                               # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from mmagent.errors import ConfigError, StoreError

__all__ = ["S3Objects"]


class S3Objects:
    """Keys to bytes in one bucket, under ``prefix``."""

    def __init__(self, bucket: str, *, prefix: str = "", endpoint_url: str | None = None,
                 region: str | None = None, access_key: str | None = None,
                 secret_key: str | None = None) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix
        self.endpoint_url = endpoint_url
        self.client = boto3.client(
            "s3", endpoint_url=endpoint_url, region_name=region, aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=Config(retries={"max_attempts": 3, "mode": "standard"},
                          s3={"addressing_style": "path"} if endpoint_url else None))

    @classmethod
    def from_config(cls, cfg) -> S3Objects:
        """From an :class:`~mmagent.config.ArtifactStoreConfig`; credentials from the
        variables it names (unset: boto3's usual credential chain)."""
        access, secret = os.environ.get(cfg.access_key_env), os.environ.get(cfg.secret_key_env)
        if bool(access) != bool(secret):
            raise ConfigError(f"got only one of ${cfg.access_key_env} and ${cfg.secret_key_env}"
                              " set; expected both (stores.artifacts.access_key_env, "
                              "secret_key_env) or neither", key="stores.artifacts")
        return cls(cfg.bucket, prefix=cfg.prefix, endpoint_url=cfg.endpoint_url,
                   region=cfg.region, access_key=access, secret_key=secret)

    def put(self, key: str, data: bytes) -> None:
        with self._errors("write", key):
            self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data)

    def get(self, key: str) -> bytes | None:
        """The object's bytes; None if there is no such key."""
        with self._errors("read", key):
            try:
                return self.client.get_object(Bucket=self.bucket,
                                              Key=self.prefix + key)["Body"].read()
            except self.client.exceptions.NoSuchKey:
                return None

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        with self._errors("look up", key):
            try:
                self.client.head_object(Bucket=self.bucket, Key=self.prefix + key)
                return True
            except ClientError as e:
                if e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                    return False
                raise

    @contextlib.contextmanager
    def _errors(self, verb: str, key: str) -> Iterator[None]:
        """S3 and network failures as :class:`StoreError` (the server answers 503)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except (BotoCoreError, ClientError) as e:
            raise StoreError(f"could not {verb} {key} in {self!r}: {str(e)[:300]}; expected "
                             "the bucket to be reachable and writable "
                             "(stores.artifacts)", key=key) from e

    def __repr__(self) -> str:
        where = f" at {self.endpoint_url}" if self.endpoint_url else ""
        return f"s3://{self.bucket}/{self.prefix}{where}"
