"""The policy files as one set: staged copies, a bounded check in a child process, and the last
good set kept on disk (as OPA keeps its last activated bundle).

* ``stage`` copies the files of the policy set (``engine.sources.source_files``, the one list:
  ``policies/{vocabulary,base,edits,remittance}/*.yaml``, ``payers/*.yaml`` and ``payers/*.retired`` markers) into a private folder laid out as
  ``policies/`` and ``payers/``, hashing what it copied. Every load of files from disk reads such
  a copy, so what was checked is exactly what is loaded, whatever changes on disk meanwhile.
  An imported edit table (``--edits``) is read in place: it is written whole by
  ``supportable edits import`` and checked against its digest.
* ``check`` loads a staged set in a forked child process with a deadline: a file that makes
  loading slow (an alias bomb, a pathological rule) cannot hang the worker; the child is killed
  and the set refused. The worker then loads the checked copy itself (the engines cannot cross
  a process boundary), so an applied reload costs two loads (bench/bench_reload.py measures it).
* ``publish`` makes a loaded set the last good one: ``<snapshot>/sets/<id>/`` (the copies and a
  ``manifest.json`` with each payer's policy version and each file's hash), written to a
  staging folder, fsynced and renamed, then ``<snapshot>/current`` (a symlink) is replaced
  atomically. ``read_snapshot`` copies the current set out under a shared lock.
"""
from __future__ import annotations

import errno
import fcntl
import gc
import hashlib
import json
import os
import shutil
import signal
import stat
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from supportable.engine import POLICY_FOLDERS, PolicySources, default_payers_dir, source_files  # noqa: F401  (source_files: the one list)

from .wire import problem_items
FORMAT = 1


class CheckTimeout(Exception):
    """Loading the staged files took longer than the deadline."""


@dataclass
class Staged:
    root: Path                                  # holds policies/ and payers/
    files: dict[str, str] = field(default_factory=dict)    # "payers/x.yaml" -> "sha256:..."
    unreadable: dict[str, str] = field(default_factory=dict)  # files that could not be read -> why

    @property
    def policies(self) -> Path:
        return self.root / "policies"

    @property
    def payers(self) -> Path:
        return self.root / "payers"

    @property
    def retired(self) -> list[str]:
        """Payers whose removal is explicit: a ``payers/<id>.retired`` marker and no ``<id>.yaml``."""
        return sorted(name[len("payers/"):-len(".retired")] for name in self.files
                      if name.startswith("payers/") and name.endswith(".retired")
                      and f"payers/{name[len('payers/'):-len('.retired')]}.yaml" not in self.files)

    @property
    def set_id(self) -> str:
        h = hashlib.sha256()
        for name, digest in sorted(self.files.items()):
            h.update(f"{name}\0{digest}\n".encode())
        return h.hexdigest()[:16]

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def read_regular(path: Path) -> bytes:
    """A file's bytes; OSError for anything but a regular file (a FIFO named like a policy file
    must not block the reader until someone writes to it)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        with open(fd, "rb", closefd=False) as handle:
            return handle.read()
    finally:
        os.close(fd)


def stage(policies: Path, payers: Path | None, within: Path | None) -> Staged:
    """Copy the policy files into a new private folder (under ``within``, else the temp folder)."""
    if within is not None:
        Path(within).mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix=f"staging-{os.getpid()}-", dir=within))
    staged = Staged(root)
    for folder in [*(f"policies/{name}" for name in POLICY_FOLDERS), "payers"]:
        (root / folder).mkdir(parents=True, exist_ok=True)
    for name, path in source_files(policies, payers):
        try:
            data = read_regular(path)
        except OSError as exc:
            staged.unreadable[name] = exc.strerror or str(exc)
            continue
        (root / name).write_bytes(data)
        staged.files[name] = "sha256:" + hashlib.sha256(data).hexdigest()
    return staged


# -- the bounded check ---------------------------------------------------------------------------

def summarize(registry) -> dict:
    """What a load gave, as plain data: each payer's policy version, or its problems."""
    return {"policies": {p: ps.version for p, ps in registry.policies.items()},
            "failed": {p: problem_items(problems) for p, problems in registry.failed.items()}}


def load(staged: Staged, edits: Path | None):
    """The registry of a staged set, its problems located at the files' usual names
    (``payers/x.yaml``, not the staging folder's)."""
    from supportable.engine import Location
    from .registry import Registry
    registry = Registry.from_sources(PolicySources.from_dirs(staged.policies, staged.payers, edits))
    prefix = str(staged.root) + os.sep
    for problems in registry.failed.values():
        for i, p in enumerate(problems):
            if p.location is not None and p.location.file.startswith(prefix):
                loc = p.location
                problems[i] = replace(p, location=Location(loc.file[len(prefix):], loc.line, loc.column))
    return registry


def _load_summary(staged: Staged, edits: Path | None) -> dict:
    return summarize(load(staged, edits))


def check(staged: Staged, edits: Path | None, timeout: float) -> dict:
    """Load ``staged`` in a forked child and return ``summarize`` of the result; CheckTimeout if it
    takes longer than ``timeout`` seconds (the child is killed). ``timeout`` <= 0, or no fork:
    load here, unbounded."""
    if timeout <= 0 or not hasattr(os, "fork"):
        return _load_summary(staged, edits)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:   # the child: load, answer on the pipe, exit without running the parent's clean-up
        code = 1
        try:
            os.close(read_end)
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1):
                signal.signal(sig, signal.SIG_DFL)
            gc.freeze()   # leave the parent's objects alone: no copy-on-write faults from the collector
            # (the engine's module locks are made anew by their modules' os.register_at_fork hooks)
            signal.signal(signal.SIGALRM, signal.SIG_DFL)
            signal.alarm(int(timeout) + 5)   # dies by itself should the parent die before killing it
            data = json.dumps(_load_summary(staged, edits)).encode()
            view = memoryview(data)
            while view:
                view = view[os.write(write_end, view):]
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    chunks, deadline = [], time.monotonic() + timeout
    try:
        import selectors
        with selectors.DefaultSelector() as sel:
            sel.register(read_end, selectors.EVENT_READ)
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    os.kill(pid, signal.SIGKILL)
                    raise CheckTimeout(f"loading the policy files took longer than {timeout:g} s")
                chunk = os.read(read_end, 1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
    finally:
        os.close(read_end)
        _, status = os.waitpid(pid, 0)
    try:
        return json.loads(b"".join(chunks))
    except ValueError:
        raise RuntimeError(f"the check of the policy files ended without an answer (wait status {status})") \
            from None


# -- the last good set on disk -------------------------------------------------------------------

@contextmanager
def _locked(snapshot: Path, how: int):
    Path(snapshot).mkdir(parents=True, exist_ok=True)
    fd = os.open(Path(snapshot) / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, how)
        yield
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    for folder, _, names in os.walk(root):
        for name in names:
            fd = os.open(os.path.join(folder, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(folder))


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _source(policies: Path, payers: Path | None) -> dict:
    return {"policies": str(Path(policies).resolve()),
            "payers": str((Path(payers) if payers is not None else default_payers_dir(policies)).resolve())}


def publish(snapshot: Path, staged: Staged, summary: dict, policies: Path, payers: Path | None) -> dict:
    """Make ``staged`` (loaded, giving ``summary``) the last good set; the staged folder is used up.
    Returns the manifest of the set now current (the one already there, if it was the same set)."""
    snapshot = Path(snapshot)
    manifest = {"format": FORMAT, "set": staged.set_id,
                "written_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "source": _source(policies, payers),
                "payers": {p: {"policy_version": v} for p, v in sorted(summary["policies"].items())},
                "failed": sorted(summary["failed"]), "retired": staged.retired, "files": staged.files}
    with _locked(snapshot, fcntl.LOCK_EX):
        current = current_manifest(snapshot)
        if current is not None and current.get("set") == staged.set_id and current.get("source") == manifest["source"]:
            staged.remove()
            return current
        (staged.root / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
        _fsync_tree(staged.root)
        sets = snapshot / "sets"
        sets.mkdir(exist_ok=True)
        name = f"{staged.set_id}-{uuid.uuid4().hex[:8]}"
        os.rename(staged.root, sets / name)
        _fsync_dir(sets)
        link = snapshot / f".current-{uuid.uuid4().hex}"
        os.symlink(f"sets/{name}", link)
        os.replace(link, snapshot / "current")
        _fsync_dir(snapshot)
        for old in sets.iterdir():          # older sets, and staging folders of processes gone
            if old.name != name:
                shutil.rmtree(old, ignore_errors=True)
        for leftover in snapshot.glob("staging-*"):
            pid = leftover.name.split("-")[1]
            if pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(leftover, ignore_errors=True)
    return manifest


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def current_manifest(snapshot: Path) -> dict | None:
    try:
        return json.loads((Path(snapshot) / "current" / "manifest.json").read_text())
    except (OSError, ValueError):
        return None


def read_snapshot(snapshot: Path, policies: Path, payers: Path | None) -> tuple[Staged, dict] | None:
    """A private copy of the last good set and its manifest, or None when there is none for these
    policy folders (a snapshot written for other folders is ignored) or it does not match its hashes."""
    snapshot = Path(snapshot)
    if not (snapshot / "current").exists():
        return None
    with _locked(snapshot, fcntl.LOCK_SH):
        manifest = current_manifest(snapshot)
        if manifest is None or manifest.get("format") != FORMAT or manifest.get("source") != _source(policies, payers):
            return None
        root = Path(tempfile.mkdtemp(prefix=f"staging-{os.getpid()}-", dir=snapshot))
        shutil.copytree(snapshot / "current", root, dirs_exist_ok=True)
    staged = Staged(root)
    for name in manifest.get("files", {}):
        try:
            staged.files[name] = "sha256:" + hashlib.sha256((root / name).read_bytes()).hexdigest()
        except OSError:
            pass
    if staged.files != manifest.get("files"):
        staged.remove()
        raise ValueError(f"the last good set in `{snapshot}` does not match its manifest's hashes")
    return staged, manifest
