"""Reading an audit's corpus in partitions, without holding it whole.

A corpus is one or more paths: ``.ndjson`` / ``.jsonl`` files (one encounter per line; blank lines
are skipped), ``.json`` files (one encounter, or an array of encounters), ``.parquet`` files (a string
column ``encounter``, one encounter's JSON per row), X12 837P files (``.837``, ``.x12``, ``.edi``: each
claim and date of service an encounter, as ``supportable check --format-in x12`` reads them, its payer
through the payer-identifier table; docs/x12.md) and folders of those (read in name order, not
recursively). Every encounter gets an ``index`` (its place in the whole corpus,
from 0, the order results are written in) and a ``source`` (``file:line``, ``file[n]`` for an item of
a JSON array, ``file[row n]`` for a Parquet row, or the file). The text of each encounter is kept as
read and decoded on the worker that decides it; a line that is not JSON becomes an invalid result
there, in its place.

:func:`partitions` yields lists of :class:`Item` of at most ``size`` encounters, lazily, so a corpus
of millions is read as the workers take it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

LINE_SUFFIXES = (".ndjson", ".jsonl")
X12_SUFFIXES = (".837", ".x12", ".edi")
SUFFIXES = (*LINE_SUFFIXES, ".json", ".parquet", *X12_SUFFIXES)


class CorpusError(Exception):
    """The corpus cannot be read at all (no such path, an unreadable file, nothing in it)."""


@dataclass(frozen=True)
class Item:
    index: int
    source: str
    text: str
    unreadable: str | None = None     # why the text could not be read (a line that is not UTF-8)
    problem: str = "not-utf8"         # the problem type the result then carries (invalid-x12, invalid-claim)


def corpus_files(paths: Iterable[Path]) -> list[Path]:
    """Every file the corpus paths name, in the order given (a folder's files in name order)."""
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.is_file() and p.suffix in SUFFIXES)
        elif path.is_file():
            files.append(path)
        else:
            raise CorpusError(f"no file or folder `{path}`")
    if not files:
        raise CorpusError("no .ndjson, .jsonl, .json, .parquet or 837 files in " + ", ".join(f"`{p}`" for p in paths))
    return files


def _parquet_texts(path: Path) -> Iterator[tuple[str, str, str | None]]:
    """A Parquet file's encounters: its string column ``encounter``, one encounter's JSON per row."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    try:
        handle = pq.ParquetFile(str(path))
    except (OSError, pa.ArrowException) as exc:
        raise CorpusError(f"cannot read `{path}` as Parquet: {exc}") from None
    field = handle.schema_arrow.field("encounter") if "encounter" in handle.schema_arrow.names else None
    if field is None or not (pa.types.is_string(field.type) or pa.types.is_large_string(field.type)):
        raise CorpusError(f"`{path}` has no string column `encounter` (one encounter's JSON per row)")
    row = 0
    for batch in handle.iter_batches(columns=["encounter"], batch_size=4096):
        for text in batch.column(0).to_pylist():
            yield f"{path}[row {row}]", text if text is not None else "null", None
            row += 1


def _x12_texts(path: Path, payer_ids) -> Iterator[tuple[str, str, str | None]]:
    """An 837P's encounters (one per claim and date of service), each with the payer its payer
    identifier names in the table (``payer_ids``, a PayerIdTable). A file that is not a readable 837P,
    and a claim that cannot become an encounter, are one unreadable item each, in place."""
    from supportable.server.x12.encounters import build
    from supportable.server.x12.reader import X12Error, read_837
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CorpusError(f"cannot read `{path}`: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        claims = read_837(text)
    except X12Error as exc:
        yield str(path), "", ("invalid-x12", "not a readable 837P: " + "; ".join(str(p) for p in exc.problems[:5]))
        return
    if payer_ids is None:
        raise CorpusError(f"`{path}` is an 837: its payers need the payer-identifier table, which is not loaded")
    for built in build(claims, payer_ids, None, None):
        source = f"{path} claim {built.claim.claim_id} (CLM at segment {built.claim.at.segment})"
        if built.document is None:
            yield source, "", ("invalid-claim", "the claim cannot be checked: " + "; ".join(i.message for i in built.issues))
        else:
            yield source, json.dumps({**built.document, "payer": built.payer}, separators=(",", ":")), None


def _texts(path: Path, payer_ids=None) -> Iterator[tuple[str, str, str | None]]:
    """(source, text, why unreadable) of each encounter of one file."""
    if path.suffix == ".parquet":
        yield from _parquet_texts(path)
        return
    if path.suffix in X12_SUFFIXES:
        yield from _x12_texts(path, payer_ids)
        return
    try:
        if path.suffix in LINE_SUFFIXES:
            with path.open("rb") as handle:
                for number, raw in enumerate(handle, start=1):
                    if number == 1 and raw.startswith(b"\xef\xbb\xbf"):    # a byte-order mark is accepted
                        raw = raw[3:]
                    if not raw.strip():
                        continue
                    try:
                        yield f"{path}:{number}", raw.decode("utf-8").rstrip("\r\n"), None
                    except UnicodeDecodeError as exc:
                        yield f"{path}:{number}", "", f"line {number} is not UTF-8 text (byte {exc.start + 1})"
            return
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CorpusError(f"cannot read `{path}`: {getattr(exc, 'strerror', None) or exc}") from None
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            documents = json.loads(text)
        except (ValueError, RecursionError):
            yield str(path), text, None     # not JSON: reported in place as one invalid encounter
            return
        for n, document in enumerate(documents):
            yield f"{path}[{n}]", json.dumps(document, separators=(",", ":")), None
        return
    yield str(path), text, None


def items(paths: Iterable[Path], files: list[Path] | None = None, payer_ids=None) -> Iterator[Item]:
    """Every encounter of the corpus, in order (``payer_ids``: the payer-identifier table, for 837s)."""
    index = 0
    for path in files if files is not None else corpus_files(paths):
        for source, text, unreadable in _texts(path, payer_ids):
            if isinstance(unreadable, tuple):           # (problem type, why)
                yield Item(index, source, text, unreadable[1], unreadable[0])
            else:
                yield Item(index, source, text, unreadable)
            index += 1


def partitions(stream: Iterable[Item], size: int) -> Iterator[list[Item]]:
    """The items in consecutive lists of at most ``size``."""
    batch: list[Item] = []
    for item in stream:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def count_encounters(files: list[Path]) -> int | None:
    """How many encounters the files hold, counted cheaply for the progress bar (line files by their
    non-blank lines; a JSON array is not counted: None then)."""
    total = 0
    for path in files:
        if path.suffix not in LINE_SUFFIXES:
            return None
        try:
            with path.open("rb") as handle:
                total += sum(1 for line in handle if line.strip())
        except OSError:
            return None
    return total
