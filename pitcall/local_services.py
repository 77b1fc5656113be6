"""Throwaway PostgreSQL (with TimescaleDB) clusters and Mosquitto brokers for tests and benchmarks.

Each runs on a free loopback port in a temporary directory, so fault tests can stop, kill and
restart them without touching the machine's own services.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

PG_BIN = Path(os.environ.get("PITCALL_PG_BIN", "/usr/lib/postgresql/15/bin"))
# Built by `make broker-plugin` from deploy/mosquitto/plugin/pitcall_subscribe_acl.c.
SUBSCRIBE_ACL_PLUGIN = Path(
    os.environ.get(
        "PITCALL_SUBSCRIBE_ACL_PLUGIN", Path(__file__).resolve().parents[1] / "build/mosquitto/pitcall_subscribe_acl.so"
    )
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, *, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout_s}s")


def _as_postgres(args: list[str]) -> list[str]:
    return args if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--", *args]


@dataclass
class PostgresCluster:
    """A private PostgreSQL cluster with TimescaleDB preloaded."""

    port: int = field(default_factory=free_port)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="pitcall-pg-")))

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            os.chmod(self.root, 0o700)
        subprocess.run(
            _as_postgres(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(self.datadir),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--no-sync",
                    "-E",
                    "UTF8",
                ]
            ),
            check=True,
            capture_output=True,
        )
        settings = (
            f"port = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.root}'\n"
            # fsync off keeps the tests fast and is safe here: "immediate" stops kill processes, not the kernel.
            # synchronous_commit stays on, or a commit ingest acked could vanish in such a stop.
            "shared_preload_libraries = 'timescaledb'\ntimescaledb.telemetry_level = off\n"
            "fsync = off\nfull_page_writes = off\nmax_connections = 100\n"
            "timescaledb.max_background_workers = 0\n"
        )
        with open(self.datadir / "postgresql.conf", "a") as conf:
            conf.write(settings)

    def start(self) -> None:
        subprocess.run(
            _as_postgres(
                [
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(self.datadir),
                    "-l",
                    str(self.root / "log"),
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
        )
        wait_for_port(self.port)

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(
            _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.datadir), "-m", mode, "-w", "stop"]),
            check=False,
            capture_output=True,
        )

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


MOSQUITTO_CONF = """\
listener {port} 127.0.0.1
allow_anonymous {anonymous}
persistence {persistence}
persistence_location {root}/
max_queued_messages 1000000
max_inflight_messages 0
log_dest file {log}
log_type error
log_type warning
"""


@dataclass
class Broker:
    """A private Mosquitto on a free port; optional password and ACL files."""

    port: int = field(default_factory=free_port)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="pitcall-mqtt-")))
    password_file: Path | None = None
    acl_file: Path | None = None
    persistent: bool = False  # keep sessions and queued messages across a restart, like production
    tls: tuple[Path, Path, Path] | None = None  # (CA file, certificate, key): the listener speaks TLS only
    subscribe_acl: tuple[str, ...] | None = None  # service accounts: devices subscribe to their own topics only
    acl_prefix: str = "pitcall/v1"
    extra_conf: str = ""
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        conf = MOSQUITTO_CONF.format(
            port=self.port,
            anonymous="false" if self.password_file else "true",
            log=self.root / "mosquitto.log",
            root=self.root,
            persistence="true" if self.persistent else "false",
        )
        if self.tls:
            cafile, certfile, keyfile = self.tls
            conf += f"cafile {cafile}\ncertfile {certfile}\nkeyfile {keyfile}\n"
        if self.password_file:
            conf += f"password_file {self.password_file}\nuse_username_as_clientid true\n"
        if self.acl_file:
            conf += f"acl_file {self.acl_file}\n"
        if self.subscribe_acl is not None:
            if not SUBSCRIBE_ACL_PLUGIN.exists():
                raise FileNotFoundError(f"{SUBSCRIBE_ACL_PLUGIN} is missing: run `make broker-plugin`")
            conf += (
                f"plugin {SUBSCRIBE_ACL_PLUGIN}\nplugin_opt_prefix {self.acl_prefix}\n"
                f"plugin_opt_services {' '.join(self.subscribe_acl)}\n"
            )
        if self.extra_conf:
            conf += self.extra_conf.rstrip("\n") + "\n"
        if os.geteuid() == 0:
            conf += "user root\n"  # keep root so it can read our temporary files
        (self.root / "mosquitto.conf").write_text(conf)
        self.process = subprocess.Popen(
            ["mosquitto", "-c", str(self.root / "mosquitto.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


_counter = itertools.count()


class ChildProcess:
    """Kill, stop and read the log of a pitcall process started by a runner below."""

    process: subprocess.Popen[bytes] | None

    def log_file(self) -> Path | None:
        raise NotImplementedError

    def log(self) -> str:
        path = self.log_file()
        return path.read_text()[-4000:] if path is not None and path.exists() else ""

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self, timeout_s: float = 60) -> int:
        """SIGTERM, then wait for the exit code (the process drains first)."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout_s)


def wait_until(
    predicate: Callable[[], bool], *, timeout_s: float = 60.0, what: str = "condition", poll_s: float = 0.1
) -> None:
    """Poll `predicate` until it is true; raise AssertionError naming `what` after the timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(poll_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


@dataclass
class IngestProcess(ChildProcess):
    """`pitcall ingest` as a child process, configured by environment like in production."""

    db_url: str
    mqtt_port: int
    log_dir: Path
    prefix: str
    client_id: str = field(default_factory=lambda: f"ingest-{os.getpid()}-{next(_counter)}")
    extra_env: dict[str, str] = field(default_factory=dict)
    log_path: Path | None = None
    metrics_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "INGEST_DATABASE_URL": self.db_url,
            "INGEST_MQTT_PORT": str(self.mqtt_port),
            "INGEST_MQTT_USERNAME": "",
            "INGEST_CLIENT_ID": self.client_id,
            "INGEST_TOPIC_PREFIX": self.prefix,
            "INGEST_METRICS_PORT": str(self.metrics_port),
            "INGEST_RETRY_MAX_S": "2",
            **self.extra_env,
        }

    def start(self, *, wait: bool = True) -> IngestProcess:
        self.log_path = self.log_path or self.log_dir / f"{self.client_id}.log"
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pitcall", "ingest"], env=self.env(), stdout=log, stderr=log
        )
        if wait:
            wait_until(self.ready, timeout_s=30, what=f"ingest {self.client_id} subscribed")
        return self

    def metric(self, name: str) -> float | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=2) as response:
                body = response.read().decode()
        except OSError:
            return None
        total = None
        for line in body.splitlines():
            if line.startswith(name) and not line.startswith("#"):
                total = (total or 0.0) + float(line.rsplit(" ", 1)[1])
        return total

    def log_file(self) -> Path | None:
        return self.log_path

    def ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"ingest exited with {self.process.returncode}: {self.log()}")
        return self.metric("pitcall_ingest_broker_connected") == 1.0


def make_test_certificates(directory: Path, *, host_ip: str = "127.0.0.1") -> tuple[Path, Path, Path]:
    """Create a throwaway CA and a server certificate for `host_ip` with openssl; return (ca, cert, key)."""
    ca_key, ca, key, csr, cert = (directory / n for n in ("ca.key", "ca.pem", "server.key", "server.csr", "server.pem"))

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=pitcall test CA",
        "-keyout",
        str(ca_key),
        "-out",
        str(ca),
    )
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={host_ip}", "-keyout", str(key), "-out", str(csr))
    extensions = directory / "san.ext"
    extensions.write_text(f"subjectAltName=IP:{host_ip}\n")
    run(
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(ca),
        "-CAkey",
        str(ca_key),
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        str(extensions),
        "-out",
        str(cert),
    )
    return ca, cert, key
