"""Policy sources as a value: every file the loader reads, by name, with its bytes, read once.

A :class:`PolicySources` is what the pipeline starts from (``parse`` -> ``build``, see
:mod:`engine.build`): the vocabulary, the base rule files, the base edit tables and the payer
overlays, each read once from disk by :meth:`PolicySources.from_dirs` through the safe reader
(``yamlsource.read_bytes``: size cap, regular files only), and an imported CMS edit table folder
(read by ``edits_store``, named here so its manifest is part of the digest). The value is
immutable: ``with_file`` (a candidate overlay for impact, a draft) and ``without`` return new
values, and ``digest`` is one hash over the names and contents (what reload compares, what the
policy-test cache keys on).

Each file has two names: ``name``, its place in the set (``policies/base/units.yaml``,
``payers/medicare.yaml``: the layout a staged set or a snapshot has on disk), and ``shown``, how
problems and proofs locate it (today's names: relative to the project when inside it).
:func:`source_files` is the one list of the files a set holds; staging, reload, policy tests and
lint all go through it.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Iterator, Mapping

from .errors import Problem, Problems
from .vocabulary import VOCABULARY_FILES  # a fixed set of files, each read whether or not it exists
from .yamlsource import MAX_FILE_BYTES, Node, load_text, read_bytes, text_of

BASE = "base"
POLICY_FOLDERS = ("vocabulary", "base", "edits", "remittance")



def default_payers_dir(policies_dir: Path) -> Path:
    """Overlays live in ``payers/`` beside ``policies/`` unless told otherwise."""
    return Path(policies_dir).resolve().parent / "payers"


def shown_path(path: Path, root: Path | None) -> str:
    """A path as problems and proofs show it: relative to the project when it is inside it."""
    path = Path(path)
    if root is not None:
        try:
            return str(path.resolve().relative_to(Path(root).resolve()))
        except ValueError:
            pass
    return str(path)


def source_files(policies: Path, payers: Path | None) -> list[tuple[str, Path]]:
    """(name in a set, path on disk) for every file of a policy set on disk: ``policies/{vocabulary,
    base,edits,remittance}/*.yaml``, ``payers/*.yaml`` and ``payers/*.retired`` markers (a payer retired on
    purpose). The one definition of what a set holds: staging copies these, reload and the policy
    tests' cache compare their digest, lint reports on them."""
    payers = Path(payers) if payers is not None else default_payers_dir(policies)
    found = [(f"policies/{folder}/{p.name}", p) for folder in POLICY_FOLDERS
             for p in sorted((Path(policies) / folder).glob("*.yaml"))]
    found += [(f"payers/{p.name}", p) for p in overlay_paths(payers)]
    found += [(f"payers/{p.name}", p) for p in sorted(payers.glob("*.retired"))]
    return found


def overlay_paths(payers: Path | None) -> list[Path]:
    """The ``payers/*.yaml`` files (a misplaced ``base.yaml`` among them), in name order."""
    return sorted(Path(payers).glob("*.yaml")) if payers is not None else []


@dataclass(frozen=True)
class SourceFile:
    """One policy file: its name in the set, how problems show it, and its bytes (``None`` when it
    could not be read; ``problems`` then say why)."""
    name: str
    shown: str
    data: bytes | None
    read_problems: tuple[Problem, ...] = ()

    @classmethod
    def read(cls, path: Path, shown: str | None = None, name: str | None = None) -> "SourceFile":
        """A file read from disk on its own (``shown`` defaults to its path)."""
        shown = str(path) if shown is None else shown
        data, problems = read_bytes(Path(path), shown, MAX_FILE_BYTES)
        return cls(name or shown, shown, data, tuple(problems))

    @cached_property
    def _text(self) -> tuple[str | None, tuple[Problem, ...]]:
        if self.data is None:
            return None, self.read_problems
        text, problems = text_of(self.data, self.shown, MAX_FILE_BYTES)
        return text, tuple(problems)

    @property
    def text(self) -> str | None:
        """The file's text, or None when it cannot be read or is refused (``problems`` say why)."""
        return self._text[0]

    @property
    def problems(self) -> list[Problem]:
        """What stops the file being read as text (unreadable, too large, not UTF-8, a control character)."""
        return list(self._text[1])

    @property
    def stem(self) -> str:
        return Path(self.name).stem

    def compose(self, aliases: bool = False) -> tuple[Node | None, list[Problem]]:
        """The file's YAML, composed safely, and every problem reading or composing it."""
        text, problems = self._text
        if text is None:
            return None, list(problems)
        return load_text(text, self.shown, aliases)

    def compose_into(self, problems: Problems, docs: dict[str, Node] | None = None) -> Node | None:
        """:meth:`compose`, its problems added to ``problems``; ``docs``, if given, keeps the composed
        YAML by shown name (lint reads locations from it)."""
        doc, found = self.compose()
        if docs is not None and doc is not None:
            docs[self.shown] = doc
        problems.items.extend(found)
        return doc


@dataclass(frozen=True)
class PolicySources:
    """Every policy file of a set, by name (see the module docstring). Immutable: change it with
    :meth:`with_file` and :meth:`without`."""
    files: Mapping[str, SourceFile]
    policies_dir: Path
    payers_dir: Path
    edits_dir: Path | None = None
    _edits_manifest: bytes | None = field(default=None, repr=False)

    # -- reading ------------------------------------------------------------------------------

    @classmethod
    def from_dirs(cls, policies_dir: Path, payers_dir: Path | None = None, edits_dir: Path | None = None
                  ) -> "PolicySources":
        """Read every file of the set once (see :func:`source_files`), plus any vocabulary file that
        is missing (it stays in the set, unreadable, so its problem is reported where it is read)."""
        policies_dir = Path(policies_dir)
        payers_dir = default_payers_dir(policies_dir) if payers_dir is None else Path(payers_dir)
        on_disk = dict(source_files(policies_dir, payers_dir))
        for name in VOCABULARY_FILES:
            on_disk.setdefault(f"policies/vocabulary/{name}", policies_dir / "vocabulary" / name)
        made = cls({}, policies_dir, payers_dir, None if edits_dir is None else Path(edits_dir))
        files = {}
        for name, path in sorted(on_disk.items()):
            files[name] = SourceFile.read(path, made.shown_name(name), name)
        manifest = None
        if edits_dir is not None:
            manifest, _ = read_bytes(Path(edits_dir) / "manifest.json", "manifest.json", MAX_FILE_BYTES)
        return cls(MappingProxyType(files), made.policies_dir, made.payers_dir, made.edits_dir, manifest)

    @cached_property
    def root(self) -> Path:
        """The project folder shown names are relative to."""
        return self.policies_dir.resolve().parent

    def shown_name(self, name: str) -> str:
        """How problems show the file ``name`` of this set (as they always have: the vocabulary by
        its path as given, the other files relative to the project when inside it)."""
        folder, _, rest = name.partition("/")
        if folder == "payers":
            return shown_path(self.payers_dir / rest, self.root)
        sub, _, base = rest.partition("/")
        if sub == "vocabulary":
            return str(self.policies_dir / "vocabulary" / base)
        return shown_path(self.policies_dir / sub / base, self.root)

    def path_of(self, name: str) -> Path:
        """Where the file ``name`` of this set is on disk (or would be)."""
        folder, _, rest = name.partition("/")
        return self.payers_dir / rest if folder == "payers" else self.policies_dir / rest

    # -- changing -----------------------------------------------------------------------------

    def with_file(self, name: str, text: str | bytes, shown: str | None = None) -> "PolicySources":
        """This set with ``name`` (``payers/acme.yaml``…) holding ``text``; ``shown``: how its
        problems name it (by default as the file in its folder would be shown)."""
        data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        if len(data) > MAX_FILE_BYTES + 1:
            data = data[:MAX_FILE_BYTES + 1]        # as much as a read from disk keeps
        files = dict(self.files)
        files[name] = SourceFile(name, shown or self.shown_name(name), data)
        return self._replace(files)

    def without(self, name: str) -> "PolicySources":
        files = dict(self.files)
        files.pop(name, None)
        return self._replace(files)

    def _replace(self, files: dict[str, SourceFile]) -> "PolicySources":
        return PolicySources(MappingProxyType(dict(sorted(files.items()))), self.policies_dir, self.payers_dir,
                             self.edits_dir, self._edits_manifest)

    # -- looking -----------------------------------------------------------------------------

    def __iter__(self) -> Iterator[SourceFile]:
        return iter(self.files.values())

    def __contains__(self, name: str) -> bool:
        return name in self.files

    def __getitem__(self, name: str) -> SourceFile:
        return self.files[name]

    def folder(self, folder: str) -> list[SourceFile]:
        """The ``*.yaml`` files of ``policies/<folder>/``, in name order."""
        prefix = f"policies/{folder}/"
        return [f for n, f in self.files.items() if n.startswith(prefix) and n.endswith(".yaml")
                and "/" not in n[len(prefix):]]

    def overlays(self) -> dict[str, SourceFile]:
        """Payer id -> overlay file, for every ``payers/*.yaml`` but a misplaced ``base.yaml``."""
        return {f.stem: f for n, f in self.files.items()
                if n.startswith("payers/") and n.endswith(".yaml") and f.stem != BASE}

    def misplaced_base(self) -> SourceFile | None:
        """A ``payers/base.yaml``: never loaded (the base layer is ``policies/base/``)."""
        return self.files.get(f"payers/{BASE}.yaml")

    def payer_ids(self) -> list[str]:
        """``base`` and every payer overlay in the set (whether or not it loads)."""
        return [BASE, *self.overlays()]

    def shown_names(self) -> list[str]:
        """Every file as problems show it (the files lint may report on)."""
        return [f.shown for f in self.files.values()]

    def digest(self) -> str:
        """One hash of every file's name and contents, and of an imported edit table's manifest
        (which carries the digest of its table files): equal digests, equal policies."""
        return self._digest

    @cached_property
    def _digest(self) -> str:
        h = hashlib.sha256()
        for name, f in sorted(self.files.items()):
            content = b"\0unreadable:" + "|".join(p.message for p in f.read_problems).encode() \
                if f.data is None else hashlib.sha256(f.data).digest()
            h.update(name.encode() + b"\0" + f.shown.encode() + b"\0" + content + b"\n")
        if self.edits_dir is not None:
            h.update(b"edits\0" + str(self.edits_dir).encode() + b"\0" +
                     hashlib.sha256(self._edits_manifest or b"").digest())
        return "sha256:" + h.hexdigest()
