"""Finding a logged decision by its id without reading the decision log: an index beside the log.

The index is a SQLite file (the standard library's ``sqlite3``; no server, nothing to install) at
``<log>.index``: per entry its id, byte offset and length in the log, and how far the log has been
indexed (``indexed_to``), for the log file it was built from (device and inode). It is shared by
every worker process, as the log is: a decision written by worker A is found through worker B.

- Writing: the log's writer adds each entry right after appending it, under the log's exclusive
  ``flock`` (so index updates are in log order); ``indexed_to`` moves on only when the entry
  starts where the index ended. An index that cannot be written never costs a decision or its log
  entry: the failure is logged once per spell and the entry is indexed later by a catch-up.
- Finding: one primary-key lookup, then one ``pread`` of that entry's bytes. On a miss, the log
  is read from ``indexed_to`` to its end (only the part not yet indexed: normally nothing) under
  the same lock, its entries indexed, and the lookup tried again. A log rotated or cut shorter
  than the index knew (another inode, or a size below ``indexed_to``) resets the index first.
- If the index file itself is unusable (a SQLite error), finding falls back to reading the log
  line by line (streamed, never the whole file in memory), so an answer is still right, only slower.

Why an index on disk rather than a map in each worker's memory: workers share the log but not
their memory, so a map would hold only what the worker wrote itself, and a miss would read the
whole log; an index costs each entry one row (about 60 bytes) on disk, none in memory, and a
lookup is O(log n) whatever the log's size.
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import sqlite3
import threading
from pathlib import Path

LOG = logging.getLogger("supportable")
CHUNK = 1 << 20
_SCHEMA = ("CREATE TABLE IF NOT EXISTS entries (id TEXT PRIMARY KEY, offset INTEGER NOT NULL, "
           "length INTEGER NOT NULL) WITHOUT ROWID",
           "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")


class DecisionIndex:
    def __init__(self, log_path: Path):
        self.log_path = Path(log_path)
        self.path = self.log_path.with_name(self.log_path.name + ".index")
        self._conn: sqlite3.Connection | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()
        self.failing = False

    # -- the database ----------------------------------------------------------------------------
    def _db(self) -> sqlite3.Connection:
        """This process's connection (opened again after a fork: a connection never crosses one)."""
        if self._conn is None or self._pid != os.getpid():
            conn = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('file', ''), ('indexed_to', '0')")
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def _meta(self, db: sqlite3.Connection) -> tuple[str | None, int]:
        rows = dict(db.execute("SELECT key, value FROM meta").fetchall())
        return rows.get("file"), int(rows.get("indexed_to", "0"))

    @staticmethod
    def _identity(fd: int) -> str:
        st = os.fstat(fd)
        return f"{st.st_dev}:{st.st_ino}"

    def _set_meta(self, db, identity: str, indexed_to: int) -> None:
        db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                       [("file", identity), ("indexed_to", str(indexed_to))])

    def _failed(self, exc: Exception, what: str) -> None:
        if not self.failing:
            LOG.error(json.dumps({"event": "decision_index_failing", "path": str(self.path), "while": what,
                                  "error": str(exc)}))
        self.failing = True

    # -- writing (called by the log's writer, holding the log's flock) -----------------------------
    def added(self, fd: int, entry_id: str, offset: int, length: int) -> None:
        """The entry ``entry_id`` was appended at ``offset`` (``length`` bytes, its line break included).
        One row, and ``indexed_to`` moved on when the entry starts where it ended; a rotated log is
        noticed by the next lookup's catch-up (its rows are checked against the bytes they point to)."""
        with self._lock:
            try:
                db = self._db()
                db.execute("BEGIN IMMEDIATE")
                try:
                    db.execute("INSERT OR REPLACE INTO entries (id, offset, length) VALUES (?, ?, ?)",
                               (entry_id, offset, length))
                    db.execute("UPDATE meta SET value = ? WHERE key = 'indexed_to' AND value = ?",
                               (str(offset + length), str(offset)))
                    db.execute("UPDATE meta SET value = ? WHERE key = 'file' AND value = ''", (self._identity(fd),))
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                self.failing = False
            except (sqlite3.Error, OSError) as exc:
                self._failed(exc, "adding an entry")

    # -- finding ----------------------------------------------------------------------------------
    def find(self, entry_id: str) -> dict | None:
        """The logged entry ``entry_id``, or None when the log has none."""
        try:
            fd = os.open(self.log_path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            try:
                with self._lock:
                    found = self._lookup(fd, entry_id)
                if found is None:
                    # the lock order of the writer: the log's flock, then this index's lock
                    fcntl.flock(fd, fcntl.LOCK_EX)      # no writer between the catch-up and the lookup
                    try:
                        with self._lock:
                            self._catch_up(fd)
                            found = self._lookup(fd, entry_id)
                    finally:
                        fcntl.flock(fd, fcntl.LOCK_UN)
                return found
            except sqlite3.Error as exc:
                self._failed(exc, "finding an entry")
            return scan(self.log_path, entry_id)
        finally:
            os.close(fd)

    def _lookup(self, fd: int, entry_id: str) -> dict | None:
        row = self._db().execute("SELECT offset, length FROM entries WHERE id = ?", (entry_id,)).fetchone()
        if row is None:
            return None
        data = os.pread(fd, row[1], row[0])
        try:
            entry = json.loads(data)
        except ValueError:
            return None
        return entry if isinstance(entry, dict) and entry.get("id") == entry_id else None

    def _catch_up(self, fd: int) -> None:
        """Index the log from where the index ends to the log's last whole line."""
        db = self._db()
        identity, size = self._identity(fd), os.fstat(fd).st_size
        file, start = self._meta(db)
        if file == identity and start == size:
            return                                  # nothing new since the index ended
        db.execute("BEGIN IMMEDIATE")
        try:
            if file != identity or start > size:
                db.execute("DELETE FROM entries")
                start = 0
            end = start
            for offset, line in _lines(fd, start, size):
                end = offset + len(line)
                entry_id = _entry_id(line)
                if entry_id is not None:
                    db.execute("INSERT OR REPLACE INTO entries (id, offset, length) VALUES (?, ?, ?)",
                               (entry_id, offset, len(line)))
            self._set_meta(db, identity, end)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise


def _lines(fd: int, start: int, size: int):
    """(offset, bytes) of each whole line (ending in a line break) between ``start`` and ``size``."""
    pending, at, offset = b"", start, start
    while at < size:
        chunk = os.pread(fd, min(CHUNK, size - at), at)
        if not chunk:
            break
        at += len(chunk)
        pending += chunk
        *whole, pending = pending.split(b"\n")
        for line in whole:
            yield offset, line + b"\n"
            offset += len(line) + 1


def _entry_id(line: bytes) -> str | None:
    try:
        entry = json.loads(line)
    except ValueError:          # a fragment left by something else: not an entry
        return None
    value = entry.get("id") if isinstance(entry, dict) else None
    return value if isinstance(value, str) else None


def scan(log_path: Path, entry_id: str) -> dict | None:
    """The entry ``entry_id`` found by reading the log line by line (when the index is unusable)."""
    needle = json.dumps(entry_id).encode()
    try:
        with open(log_path, "rb") as f:
            for line in f:
                if needle in line:
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(entry, dict) and entry.get("id") == entry_id:
                        return entry
    except OSError:
        return None
    return None
