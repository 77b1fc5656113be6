"""Keep Mosquitto's password and ACL files in step with the device registry (`pitcall broker acl --watch`).

A dongle provisioned through the API gets its secret at once, but the broker only knows the logins in
its password file. Run once, `pitcall broker acl` writes the files; with `--watch` it re-reads the
registry every few seconds, rewrites the files when a device was provisioned or revoked (one rename
each, so the broker never reads half a file) and tells the broker to reload them (SIGHUP to its pid).
A database or signal error is logged and retried at the next check: the broker keeps its last files.
"""

from __future__ import annotations

import logging
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from store.broker_files import BrokerAccount, acl_file, device_accounts, password_file, write_atomically

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BrokerReload:
    """How to tell the broker to reload: a pid, or a pid file read at each reload (the broker may restart)."""

    pid: int | None = None
    pid_file: Path | None = None

    def target(self) -> int | None:
        if self.pid_file is not None:
            return int(self.pid_file.read_text().split()[0])
        return self.pid

    def __call__(self) -> int | None:
        """Send SIGHUP; return the pid signalled (None when no broker is configured)."""
        pid = self.target()
        if pid is not None:
            os.kill(pid, signal.SIGHUP)
        return pid


@dataclass
class BrokerFileSync:
    db: Engine
    out_dir: Path
    services: list[BrokerAccount]
    ingest_user: str
    config_user: str | None
    reload: BrokerReload = field(default_factory=BrokerReload)
    _written: dict[str, str] | None = None
    _reloaded: bool = False

    def render(self) -> dict[str, str]:
        """The files' contents from the registry as it is now (active devices only)."""
        with self.db.connect() as conn:
            accounts = device_accounts(conn)
        return {
            "passwd": password_file(accounts + self.services),
            "acl": acl_file(ingest_user=self.ingest_user, config_user=self.config_user),
        }

    def sync_once(self) -> bool:
        """Write the files if the registry changed since the last write, then reload the broker (also
        after a reload that failed). Return whether the files changed."""
        files = self.render()
        changed = files != self._written
        if changed:
            for name, content in files.items():
                write_atomically(self.out_dir / name, content)
            self._written, self._reloaded = files, False
            log.info("broker files written: %d logins", files["passwd"].count("\n"))
        if not self._reloaded:
            pid = self.reload()
            self._reloaded = True
            if pid is not None:
                log.info("broker %d told to reload its password and ACL files", pid)
        return changed

    def check(self) -> None:
        """One check of the watch loop: errors are logged, and the next check tries again."""
        try:
            self.sync_once()
        except (OSError, ValueError) as exc:  # an unwritable folder, a broker not running yet, a bad pid file
            log.error("could not write the broker files or reload the broker: %s (trying again at the next check)", exc)
        except SQLAlchemyError as exc:  # the database is down: the broker keeps its last files
            log.error("could not read the device registry: %s (trying again at the next check)", exc)
