"""The edge agent end to end: ELM327-emulator → python-OBD → agent → Mosquitto → ingest → TimescaleDB,
through broker outages and kill -9."""

from __future__ import annotations

import itertools
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pitcall.cli import app
from pitcall.local_devices import AgentProcess, Elm327Emulator
from pitcall.local_services import Broker, make_test_certificates, wait_until
from simulators.fleet import make_fleet
from simulators.publish import Publisher
from store import fleet as registry
from store.db import make_engine
from tests.helpers import IngestFactory, provision, rows, scalar
from wire import DEFAULT_PREFIX, ConfigMessage, MessageKind, Topic, dump_message

pytestmark = pytest.mark.slow


@pytest.fixture
def own_broker() -> Iterator[Broker]:
    """A persistent broker of this test's own, so that the test can stop and restart it."""
    instance = Broker(persistent=True)
    instance.start()
    yield instance
    instance.destroy()


@pytest.fixture
def agent(
    db_url: str, emulator: Elm327Emulator, own_broker: Broker, prefix: str, tmp_path: Path
) -> Iterator[AgentProcess]:
    vehicle = provision(db_url, 1, seed=31)[0]
    process = AgentProcess(
        device_id=vehicle.device_id,
        vin=vehicle.vin,
        adapter_port=emulator.port,
        mqtt_port=own_broker.port,
        prefix=prefix,
        buffer_path=tmp_path / "queue.db",
        extra_env={"AGENT_BACKLOG_MESSAGES_PER_S": "5", "AGENT_MAX_SAMPLES_PER_MESSAGE": "5"},
    )
    yield process
    if process.process is not None and process.process.poll() is None:  # a test that did not stop it
        process.kill()


def _samples(db_url: str) -> int:
    return int(scalar(db_url, "SELECT count(*) FROM telemetry"))


def _queue_depth(agent: AgentProcess) -> int:
    try:
        return int(sqlite3.connect(agent.buffer_path).execute("SELECT count(*) FROM samples").fetchone()[0])
    except sqlite3.OperationalError as error:  # the agent has created the file but not yet its table
        if "no such table" in str(error):
            return 0
        raise


def _assert_no_gaps(db_url: str, *, interval_s: float = 5.0, agent_down: datetime | None = None) -> None:
    """Consecutive samples are never further apart than a few cycles, except across the moment the
    agent itself was down (nobody was reading the car then)."""
    stamps = [r.ts for r in rows(db_url, "SELECT ts FROM telemetry ORDER BY ts")]
    gaps = [(a, b) for a, b in itertools.pairwise(stamps) if b - a > timedelta(seconds=interval_s)]
    gaps = [(a, b) for a, b in gaps if agent_down is None or not a <= agent_down <= b]
    assert not gaps, f"samples missing between {gaps[:3]}"


def test_agent_reads_the_car_and_its_samples_land_in_timescaledb(
    agent: AgentProcess, ingest_factory: IngestFactory, own_broker: Broker, db_url: str
) -> None:
    ingest = ingest_factory(mqtt_port=own_broker.port, log_dir=own_broker.root).start()
    agent.start()
    wait_until(lambda: _samples(db_url) >= 5, timeout_s=60, what=f"5 samples from the agent\n{agent.log()}")
    sample = rows(db_url, "SELECT pids FROM telemetry ORDER BY ts DESC LIMIT 1")[0].pids
    assert {"RPM", "SPEED", "COOLANT_TEMP", "ELM_VOLTAGE"} <= set(sample)
    assert 500 < sample["RPM"] < 8000
    wait_until(lambda: scalar(db_url, "SELECT count(*) FROM device_status") == 1, what="status")
    status = rows(db_url, "SELECT online, adapter, protocol, agent_version FROM device_status")[0]
    assert status.online and status.adapter == "ELM327 v1.5" and "CAN" in status.protocol
    wait_until(lambda: scalar(db_url, "SELECT count(*) FROM dtc_events") == 1, what="first DTC snapshot")
    assert agent.terminate() == 0
    wait_until(lambda: scalar(db_url, "SELECT online FROM device_status") is False, what="offline status")
    assert scalar(db_url, "SELECT count(*) FROM dead_letters") == 0
    assert ingest.metric("pitcall_ingest_samples_duplicate_total") == 0  # each sample was sent once


def test_broker_outage_then_kill_9_during_replay_loses_nothing(
    agent: AgentProcess, ingest_factory: IngestFactory, own_broker: Broker, db_url: str
) -> None:
    ingest_factory(mqtt_port=own_broker.port, log_dir=own_broker.root).start()
    agent.start()
    wait_until(lambda: _samples(db_url) >= 3, timeout_s=60, what=f"live samples\n{agent.log()}")
    own_broker.stop()
    wait_until(lambda: _queue_depth(agent) >= 8, timeout_s=60, what="samples piling up in the disk queue")
    own_broker.start()
    wait_until(lambda: _samples(db_url) >= 6, timeout_s=60, what="replay under way")
    agent.kill()  # in the middle of the (rate-limited) replay
    killed_at = datetime.now(UTC)
    depth_at_kill = _queue_depth(agent)
    connections = agent.log_file().read_text().count("connected to broker")
    agent.start()
    wait_until(lambda: agent.log_file().read_text().count("connected to broker") > connections, timeout_s=60,
               what="the restarted agent connected")  # before that it has no SIGTERM handler yet  # fmt: skip
    wait_until(lambda: _queue_depth(agent) <= 1, timeout_s=90, what=f"the backlog drained (was {depth_at_kill})")
    assert agent.terminate() == 0  # it sends the live tail and waits for its acks before exiting
    _assert_no_gaps(db_url, agent_down=killed_at)
    assert _queue_depth(agent) == 0
    assert scalar(db_url, "SELECT count(*) FROM dead_letters") == 0


def test_adapter_unplugged_and_back_the_agent_recovers(
    agent: AgentProcess, emulator: Elm327Emulator, ingest_factory: IngestFactory, own_broker: Broker, db_url: str
) -> None:
    ingest_factory(mqtt_port=own_broker.port, log_dir=own_broker.root).start()
    agent.start()
    wait_until(lambda: _samples(db_url) >= 3, timeout_s=60, what="samples before unplugging")
    emulator.unplug()
    wait_until(lambda: "adapter lost; reconnecting" in agent.log(), timeout_s=30, what="the agent noticing")
    assert agent.process is not None and agent.process.poll() is None, agent.log()
    before = _samples(db_url)
    emulator.start()
    wait_until(lambda: _samples(db_url) >= before + 3, timeout_s=90, what=f"samples after replugging\n{agent.log()}")
    assert "adapter lost; reconnecting" in agent.log() or "no adapter or car" in agent.log()


def test_a_new_trouble_code_reaches_timescaledb_with_its_freeze_frame(
    agent: AgentProcess, emulator: Elm327Emulator, ingest_factory: IngestFactory, own_broker: Broker, db_url: str
) -> None:
    ingest_factory(mqtt_port=own_broker.port, log_dir=own_broker.root).start()
    agent.extra_env["AGENT_DTC_INTERVAL_S"] = "2"
    agent.start()
    wait_until(lambda: scalar(db_url, "SELECT count(*) FROM dtc_events") == 1, timeout_s=60, what="first snapshot")
    emulator.set_dtcs(stored=["P0301"], pending=["P0171"], permanent=["P0420"])
    wait_until(lambda: scalar(db_url, "SELECT count(*) FROM dtc_events") == 2, timeout_s=30, what="the new code")
    event = rows(db_url, "SELECT mil, stored, pending, permanent, freeze_frame FROM dtc_events ORDER BY ts DESC")[0]
    assert event.mil is True
    assert (event.stored, event.pending, event.permanent) == (["P0301"], ["P0171"], ["P0420"])
    assert event.freeze_frame["dtc"] == "P0301" and "RPM" in event.freeze_frame["pids"]
    seen = _samples(db_url)  # unchanged codes are not sent again: over a few cycles (DTCs read every 2 s)
    wait_until(lambda: _samples(db_url) >= seen + 4, timeout_s=60, what="a few more cycles")
    assert scalar(db_url, "SELECT count(*) FROM dtc_events") == 2
    emulator.set_dtcs()  # repaired and cleared
    wait_until(lambda: scalar(db_url, "SELECT count(*) FROM dtc_events") == 3, timeout_s=30, what="the clearing")
    assert rows(db_url, "SELECT mil, stored FROM dtc_events ORDER BY ts DESC")[0] == (False, [])


class GarbageAdapter:
    """A broken 'ELM327 clone' on a TCP socket (like a Wi-Fi dongle): answers every command with noise."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._babble, args=(conn,), daemon=True).start()

    def _babble(self, conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(256):
                conn.sendall(b"?\x00\xff" + data[::-1] + b"\r\rSTOPPED\r>")

    def close(self) -> None:
        self.server.close()


def test_garbage_from_the_adapter_is_survived_with_backoff(
    db_url: str, own_broker: Broker, prefix: str, tmp_path: Path
) -> None:
    adapter = GarbageAdapter()
    vehicle = provision(db_url, 1, seed=32)[0]
    agent = AgentProcess(
        device_id=vehicle.device_id,
        vin=vehicle.vin,
        adapter_port=f"socket://127.0.0.1:{adapter.port}",
        mqtt_port=own_broker.port,
        prefix=prefix,
        buffer_path=tmp_path / "queue.db",
    ).start()
    try:
        wait_until(lambda: adapter.connections >= 1, timeout_s=30, what="a first connection attempt")
        first = time.monotonic()
        wait_until(lambda: adapter.connections >= 4, timeout_s=60, what="three more attempts")
        waited = time.monotonic() - first  # backoff 1 + 2 + 4 s at least (plus python-OBD's own probing)
        assert agent.process is not None and agent.process.poll() is None, agent.log()
        assert "no adapter or car" in agent.log()
        assert waited >= 6, f"4 connection attempts within {waited:.1f} s: no backoff?"
        cpu = sum(int(x) for x in Path(f"/proc/{agent.process.pid}/stat").read_text().rsplit(")", 1)[1].split()[11:13])
        assert cpu / os.sysconf("SC_CLK_TCK") < 5.0  # seconds of CPU (most of it start-up): no busy loop
        assert agent.terminate() == 0
    finally:
        adapter.close()


def test_agent_and_ingest_over_tls(
    db_url: str, emulator: Elm327Emulator, ingest_factory: IngestFactory, prefix: str, tmp_path: Path
) -> None:
    ca, cert, key = make_test_certificates(tmp_path)
    broker = Broker(tls=(ca, cert, key))
    broker.start()
    try:
        tls_env = {"INGEST_MQTT_TLS": "true", "INGEST_MQTT_CA_FILE": str(ca)}
        ingest_factory(mqtt_port=broker.port, log_dir=broker.root, extra_env=tls_env).start()
        vehicle = provision(db_url, 1, seed=33)[0]
        agent = AgentProcess(
            device_id=vehicle.device_id,
            vin=vehicle.vin,
            adapter_port=emulator.port,
            mqtt_port=broker.port,
            prefix=prefix,
            buffer_path=tmp_path / "queue.db",
            extra_env={"AGENT_MQTT_TLS": "true", "AGENT_MQTT_CA_FILE": str(ca)},
        ).start()
        wait_until(lambda: _samples(db_url) >= 3, timeout_s=60, what=f"samples over TLS\n{agent.log()}")
        assert agent.terminate() == 0
        untrusting = AgentProcess(
            device_id=vehicle.device_id,
            vin=vehicle.vin,
            adapter_port=emulator.port,
            mqtt_port=broker.port,
            prefix=prefix,
            buffer_path=tmp_path / "other.db",
            extra_env={"AGENT_MQTT_TLS": "true"},
        ).start()  # system CAs: must not trust ours
        wait_until(lambda: untrusting.buffer_path.exists() and _queue_depth(untrusting) >= 4, timeout_s=60,
                   what="samples kept on disk meanwhile")  # fmt: skip
        assert untrusting.process is not None and untrusting.process.poll() is None
        assert "connected to broker" not in untrusting.log()
        assert _queue_depth(untrusting) > 0  # it keeps the data on disk meanwhile
        untrusting.terminate()
    finally:
        broker.destroy()


def test_misfire_monitors_are_read_once_per_trip(
    agent: AgentProcess, ingest_factory: IngestFactory, own_broker: Broker, db_url: str
) -> None:
    ingest_factory(mqtt_port=own_broker.port, log_dir=own_broker.root).start()
    agent.extra_env["AGENT_MONITOR_DELAY_S"] = "3"
    agent.start()
    key = "MONITOR_MISFIRE_CYLINDER_1.MISFIRE_COUNT"
    query = f"SELECT count(*) FROM telemetry WHERE pids ? '{key}'"
    wait_until(lambda: scalar(db_url, query) == 1, timeout_s=60, what=f"Mode 06 results\n{agent.log()}")
    stored = rows(db_url, f"SELECT pids FROM telemetry WHERE pids ? '{key}'")[0].pids
    assert stored[key] == 0.0 and "MONITOR_MISFIRE_CYLINDER_1.MISFIRE_AVERAGE" in stored
    seen = _samples(db_url)
    wait_until(lambda: _samples(db_url) >= seen + 4, timeout_s=60, what="a few more cycles")
    assert scalar(db_url, query) == 1  # once per trip


def test_parked_car_resting_voltage_then_a_start_with_its_cranking_dip(
    agent: AgentProcess, emulator: Elm327Emulator, ingest_factory: IngestFactory, own_broker: Broker, db_url: str
) -> None:
    ingest_factory(mqtt_port=own_broker.port, log_dir=own_broker.root).start()
    emulator.ignition(on=False)
    emulator.set_voltage(12.6)
    agent.extra_env.update({"AGENT_PARKED_VOLTAGE_INTERVAL_S": "3", "AGENT_CAR_PROBE_S": "600"})
    agent.start()
    resting = "SELECT count(*) FROM telemetry WHERE NOT pids ? 'RPM' AND (pids->>'ELM_VOLTAGE')::float8 = 12.6"
    wait_until(lambda: scalar(db_url, resting) >= 2, timeout_s=60, what=f"resting-voltage samples\n{agent.log()}")
    assert scalar(db_url, "SELECT count(*) FROM telemetry WHERE pids ? 'RPM'") == 0  # parked: nothing else
    emulator.set_voltage(9.7)  # the starter turns
    wait_until(lambda: "engine cranking" in agent.log(), timeout_s=30, what="the crank noticed")
    emulator.set_voltage(14.2)
    emulator.ignition(on=True)
    wait_until(
        lambda: scalar(db_url, "SELECT count(*) FROM telemetry WHERE pids ? 'RPM'") >= 3,
        timeout_s=60,
        what=f"driving samples after the start\n{agent.log()}",
    )
    dip = scalar(db_url, "SELECT min((pids->>'ELM_VOLTAGE')::float8) FROM telemetry")
    assert dip == 9.7
    assert "engine cranking" in agent.log()


def test_a_retained_config_changes_the_sample_interval_without_restart(
    agent: AgentProcess, ingest_factory: IngestFactory, own_broker: Broker, db_url: str, prefix: str
) -> None:
    ingest_factory(mqtt_port=own_broker.port, log_dir=own_broker.root).start()
    agent.start()
    wait_until(lambda: _samples(db_url) >= 3, timeout_s=60, what="samples at 1 Hz")
    config = ConfigMessage(v=1, sample_interval_s=4.0, dtc_interval_s=300)
    publisher = Publisher(host="127.0.0.1", port=own_broker.port, client_id="config-publisher")
    publisher.publish_raw(str(Topic(agent.device_id, MessageKind.CONFIG, prefix)), dump_message(config), retain=True)
    publisher.close()
    wait_until(lambda: "config applied" in agent.log(), timeout_s=30, what="the config applied")
    before, since = _samples(db_url), time.monotonic()
    wait_until(lambda: _samples(db_url) >= before + 4, timeout_s=60, what="four more samples")
    # at 1 Hz they take ~4 s; at one every 4 s at least 8 s (one or two read before the change may trail)
    assert time.monotonic() - since >= 7, "four samples came faster than one every 4 s"
    assert agent.process is not None and agent.process.poll() is None


def test_check_reports_what_works(emulator: Elm327Emulator, own_broker: Broker, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "AGENT_DEVICE_ID": "dongle-check",
        "AGENT_ADAPTER_PORT": emulator.port,
        "AGENT_ADAPTER_BAUDRATE": "38400",
        "AGENT_MQTT_PORT": str(own_broker.port),
        "AGENT_BUFFER_PATH": str(tmp_path / "q.db"),
    }
    ok = subprocess.run(
        [sys.executable, "-m", "edge_agent", "--check"], env=env, capture_output=True, text=True, timeout=60
    )
    assert ok.returncode == 0, ok.stderr
    assert "adapter ok: ELM327 v1.5" in ok.stderr and "broker ok" in ok.stderr
    env["AGENT_ADAPTER_PORT"] = str(tmp_path / "unplugged")
    env["AGENT_MQTT_PORT"] = "9"
    failing = subprocess.run(
        [sys.executable, "-m", "edge_agent", "--check"], env=env, capture_output=True, text=True, timeout=60
    )
    assert failing.returncode == 1
    assert "adapter FAILED" in failing.stderr and "broker FAILED" in failing.stderr


def test_agent_logs_in_as_its_device_on_a_broker_with_the_generated_acl(
    db_url: str,
    emulator: Elm327Emulator,
    ingest_factory: IngestFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    vehicle = make_fleet(1, seed=34, prefix="t34")[0]
    with make_engine(db_url).begin() as conn:
        store_id = registry.ensure_store(conn, group_name="G", store_code="S34", store_name="S34")
        registry.add_vehicle(conn, store_id=store_id, vin=vehicle.vin, make="VW", model="Lavida", year=2022)
        secret = registry.provision_device(conn, device_id=vehicle.device_id, vin=vehicle.vin).secret
    monkeypatch.setenv("PITCALL_DATABASE_URL", db_url)
    monkeypatch.setenv("INGEST_MQTT_PASSWORD", "ingest-secret")
    assert CliRunner().invoke(app, ["broker", "acl", "--out-dir", str(tmp_path / "auth")]).exit_code == 0
    broker = Broker(password_file=tmp_path / "auth" / "passwd", acl_file=tmp_path / "auth" / "acl")
    broker.start()
    try:
        ingest_factory(
            mqtt_port=broker.port,
            log_dir=broker.root,
            prefix=DEFAULT_PREFIX,
            extra_env={"INGEST_MQTT_USERNAME": "pitcall-ingest", "INGEST_MQTT_PASSWORD": "ingest-secret"},
        ).start()
        agent = AgentProcess(
            device_id=vehicle.device_id,
            vin=vehicle.vin,
            adapter_port=emulator.port,
            mqtt_port=broker.port,
            prefix=DEFAULT_PREFIX,
            buffer_path=tmp_path / "queue.db",
            extra_env={"AGENT_DEVICE_SECRET": secret},
        ).start()
        wait_until(lambda: _samples(db_url) >= 3, timeout_s=60, what=f"samples through the ACL\n{agent.log()}")
        assert agent.terminate() == 0
        impostor = AgentProcess(
            device_id=vehicle.device_id,
            vin=vehicle.vin,
            adapter_port=emulator.port,
            mqtt_port=broker.port,
            prefix=DEFAULT_PREFIX,
            buffer_path=tmp_path / "impostor.db",
            extra_env={"AGENT_DEVICE_SECRET": "not-the-secret"},
        ).start()
        wait_until(lambda: "broker refused the connection" in impostor.log(), timeout_s=30, what="the refusal")
        assert "connected to broker" not in impostor.log()
        impostor.terminate()
    finally:
        broker.destroy()
