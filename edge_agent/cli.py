"""`pitcall-agent`: run the edge agent, or `--check` the adapter and the broker.

argparse rather than typer/rich: the agent runs on small computers and those two cost ~4 MB of
resident memory against a 60 MB budget.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import ValidationError

from edge_agent.agent import Agent
from edge_agent.buffer import DiskBuffer, QueueFileError
from edge_agent.obd_link import AdapterUnavailableError, ObdLink
from edge_agent.settings import AgentSettings, load_settings
from edge_agent.uplink import Uplink, UplinkOptions
from pitcall import logs
from wire.pids import FAST_SET
from wire.v1 import StatusMessage


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the pitcall edge agent (docs/edge-agent.md); return the exit code."""
    parser = argparse.ArgumentParser(prog="pitcall-agent", description="The pitcall edge agent.")
    parser.add_argument("--config", type=Path, help="TOML settings file (AGENT_* variables override it)")
    parser.add_argument("--check", action="store_true", help="probe the adapter and the broker, print what works")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config)
    except ValidationError as exc:
        _say(f"error: settings: {exc}")
        return 2
    if args.check:
        return 0 if _check(settings) else 1
    logs.configure()
    try:
        buffer = DiskBuffer(settings.buffer_path, max_bytes=settings.buffer_max_bytes)
    except QueueFileError as exc:
        _say(f"error: {exc}")
        return 1
    agent = Agent(settings=settings, link=_link(settings), buffer=buffer, uplink=_uplink(settings))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    agent.run(stop)
    buffer.close()
    return 0


def _link(settings: AgentSettings) -> ObdLink:
    return ObdLink(port=settings.adapter_port, baudrate=settings.adapter_baudrate, timeout_s=settings.adapter_timeout_s)


def _uplink(settings: AgentSettings) -> Uplink:
    options = UplinkOptions(
        device_id=settings.device_id,
        secret=settings.device_secret.get_secret_value() if settings.device_secret else None,
        host=settings.mqtt_host,
        port=settings.mqtt_port,
        prefix=settings.topic_prefix,
        tls=settings.mqtt_tls,
        ca_file=settings.mqtt_ca_file,
        end_to_end=settings.ack_mode == "end_to_end",
    )
    offline = StatusMessage(v=1, device_id=settings.device_id, online=False, ts=datetime.now(UTC))
    return Uplink(options, offline_status=offline)


def _check(settings: AgentSettings) -> bool:
    adapter_ok = broker_ok = False
    link = _link(settings)
    try:
        car = link.connect()
        values = link.read(n for n in FAST_SET if n in car.supported)
        answered = sum(v is not None for v in values.values())
        _say(
            f"adapter ok: {car.adapter}, {car.protocol}, VIN {car.vin or 'not reported'}, "
            f"{len(car.supported)} commands supported, {answered}/{len(values)} fast-set PIDs answered, "
            f"battery {link.read_voltage()} V"
        )
        adapter_ok = True
    except AdapterUnavailableError as exc:
        _say(f"adapter FAILED: {exc}")
    finally:
        link.close()
    connected = threading.Event()
    outcome: list[str] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=settings.device_id)
    if settings.device_secret:
        client.username_pw_set(settings.device_id, settings.device_secret.get_secret_value())
    if settings.mqtt_tls or settings.mqtt_ca_file:
        client.tls_set(ca_certs=settings.mqtt_ca_file)

    def on_connect(_c: mqtt.Client, _u: object, _f: object, reason: object, _p: object) -> None:
        outcome.append(str(reason))
        connected.set()

    client.on_connect = on_connect
    try:
        client.connect(settings.mqtt_host, settings.mqtt_port, keepalive=10)
        client.loop_start()
        broker_ok = connected.wait(10) and outcome == ["Success"]
    except OSError as exc:
        outcome.append(str(exc))
    finally:
        client.loop_stop()
    where = f"{settings.mqtt_host}:{settings.mqtt_port}"
    if broker_ok:
        _say(f"broker ok: {where} accepted {settings.device_id}")
    else:
        _say(f"broker FAILED: {where}: {outcome[0] if outcome else 'no answer'}")
    return adapter_ok and broker_ok


def run() -> None:
    sys.exit(main())
