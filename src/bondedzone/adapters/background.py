"""Background work of the server process: the continuous comparison (W3) and the watched folder (M22).

Both are plain threads that poll the database or the file system at an interval, started and
stopped with the API (``create_app``'s lifespan) or run in the foreground by the CLI. Neither holds
state that matters: after a restart they catch up from the database and the folder.

* :class:`ContinuousReconciler` — every ``interval`` seconds, the books that received a movement,
  a stocktake, a posting or a document event since the last look are compared again (over the last
  ``window``) and their open discrepancies replaced; every ``full_every`` seconds all books with WMS
  data are, so that a missing counterpart turns from a timing lag into an error when its tolerance
  runs out even if nothing new arrives. On PostgreSQL one process of a multi-worker server does
  this (a session advisory lock elects it); the others stand by.
* :class:`FolderWatcher` — files dropped into ``<root>/<USCC>/`` (CSV, JSON or XML) are ingested for
  that enterprise once their size has stopped changing; the file then moves to ``done/`` with a
  ``.result.json`` beside it, or to ``rejected/`` with a ``.errors.json``. A name containing
  ``.partial.`` asks for partial acceptance. The same file dropped again gets the first answer.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import Connection, Engine

from bondedzone.adapters.files import wms_files
from bondedzone.domain.errors import BzError, ErrorGroup
from bondedzone.services import reconcile
from bondedzone.services import wms as wms_service
from bondedzone.services.authz import Principal, Role
from bondedzone.services.ports import UnitOfWorkFactory

log = structlog.get_logger("bondedzone.background")
LEADER_KEY = 0x627A_7733  # "bzw3"


class _Loop:
    """A daemon thread calling ``step`` every ``interval`` seconds until stopped."""

    name = "loop"

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def step(self) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except Exception:  # a bad moment must not end the loop; it is logged and retried
                log.exception(f"{self.name} step failed")
            self._stop.wait(self.interval)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"bondedzone-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)


class ContinuousReconciler(_Loop):
    """W3: keep the open discrepancies of every book current."""

    name = "continuous-reconciler"

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        engine: reconcile.CompareEngine,
        *,
        db: Engine | None = None,
        interval: float = 1.0,
        window: timedelta = timedelta(days=31),
        tolerance: timedelta = timedelta(hours=2),
        full_every: float = 60.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__(interval)
        self.uow_factory = uow_factory
        self.engine = engine
        self.db = db
        self.window = window
        self.tolerance = tolerance
        self.full_every = full_every
        self.now = now
        self.cursors: dict[str, int] = {}
        self._last_full = 0.0
        self._leader: Connection | None = None

    def _is_leader(self) -> bool:
        if self.db is None or self.db.dialect.name != "postgresql":
            return True
        if self._leader is None:
            conn = self.db.connect()
            got = bool(conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({LEADER_KEY})").scalar())
            if not got:
                conn.close()
                return False
            conn.commit()
            self._leader = conn
        return True

    def step(self) -> int:
        """One look: returns how many books were compared again."""
        if not self._is_leader():
            return 0
        with self.uow_factory(write=False) as uow:
            self.cursors, books = uow.wms.changed_books(self.cursors)
            full = time.monotonic() - self._last_full >= self.full_every
            if full:
                books |= uow.wms.books_with_wms_data()
        if full:
            self._last_full = time.monotonic()
        if books:
            reconcile.refresh_open(
                self.uow_factory, self.engine, sorted(books), now=self.now(), window=self.window, tolerance=self.tolerance
            )
        return len(books)

    def stop(self) -> None:
        super().stop()
        if self._leader is not None:
            self._leader.close()
            self._leader = None


class FolderWatcher(_Loop):
    """M22: ingest the WMS files dropped into ``root/<USCC>/``."""

    name = "folder-watcher"

    def __init__(self, uow_factory: UnitOfWorkFactory, root: Path, *, interval: float = 1.0) -> None:
        super().__init__(interval)
        self.uow_factory = uow_factory
        self.root = root
        self._sizes: dict[Path, int] = {}

    def step(self) -> list[Path]:
        """One look at the folder; returns the files handled."""
        handled: list[Path] = []
        if not self.root.is_dir():
            return handled
        for folder in sorted(p for p in self.root.iterdir() if p.is_dir()):
            for path in sorted(folder.iterdir()):
                if not path.is_file() or path.name.startswith(".") or path.suffix.lower() not in (".csv", ".json", ".xml"):
                    continue
                size = path.stat().st_size
                if self._sizes.get(path) != size:  # still being written, or new: look again next time
                    self._sizes[path] = size
                    continue
                self._sizes.pop(path, None)
                self.handle(folder.name, path)
                handled.append(path)
        return handled

    def handle(self, uscc: str, path: Path) -> dict[str, Any]:
        """Ingest one file for the enterprise ``uscc``; move it to done/ or rejected/ with the answer."""
        who = Principal(Role.ENTERPRISE, uscc, f"folder:{uscc}")
        data = path.read_bytes()
        try:
            parsed = wms_files.read(data, path.name)
            records = [wms_service.RawRecord(r.record, r.line, r.fields) for r in parsed.records]
            with self.uow_factory(write=True) as uow:
                if uow.wms.enterprise_id(uscc) is None:
                    raise BzError("BZ-ENTERPRISE-NOT-FOUND", uscc=uscc[:18])
                answer = wms_service.ingest(
                    uow,
                    who,
                    parsed.kind,
                    records,
                    batch_ref=parsed.batch_ref or "file-" + hashlib.sha256(data).hexdigest()[:59],
                    partial=".partial." in path.name,
                    source="folder",
                    filename=path.name[:255],
                    read_errors=parsed.errors,
                )
                uow.commit()
            self._move(path, "done", ".result.json", answer)
            return answer
        except BzError as e:
            errors = e.errors if isinstance(e, ErrorGroup) else [e]
            report = {
                "code": e.code,
                "messages": {"zh": e.message("zh"), "en": e.message("en")},
                "errors": [{**wms_service.error_json(x), "detail": x.public_detail()} for x in errors],
            }
            self._move(path, "rejected", ".errors.json", report)
            return report

    @staticmethod
    def _move(path: Path, to: str, suffix: str, report: dict[str, Any]) -> None:
        target = path.parent / to
        target.mkdir(exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        dest = target / f"{stamp}-{path.name}"
        path.replace(dest)
        (target / f"{dest.name}{suffix}").write_text(json.dumps(report, ensure_ascii=False, indent=2, default=str), "utf-8")
