"""Writing an audit's results: NDJSON (one result document per line, in input order) or Parquet.

A Parquet file has one row per encounter, in input order: ``index``, ``source``, ``encounter`` (its
id, when decided), ``payer``, ``policy_version``, ``ok`` (decided or not), the line counts by verdict,
and ``result``, the very result document the NDJSON output has on that row, as JSON text, so no
detail is lost (read it back with ``pyarrow.parquet.read_table``). Parquet needs ``pyarrow``.
"""
from __future__ import annotations

import json
from pathlib import Path

FORMATS = ("ndjson", "parquet")
VERDICT_COLUMNS = ("supportable", "needs_documentation", "not_supportable")


class NdjsonWriter:
    def __init__(self, path: Path):
        self.handle = Path(path).open("w", encoding="utf-8")

    def write(self, lines: list[str]) -> None:
        self.handle.write("".join(line + "\n" for line in lines))
        self.handle.flush()

    def close(self) -> None:
        self.handle.close()


class ParquetWriter:
    def __init__(self, path: Path):
        import pyarrow as pa
        import pyarrow.parquet as pq
        self.pa = pa
        self.schema = pa.schema([("index", pa.int64()), ("source", pa.string()), ("encounter", pa.string()),
                                 ("payer", pa.string()), ("policy_version", pa.string()), ("ok", pa.bool_()),
                                 *[(v, pa.int32()) for v in VERDICT_COLUMNS], ("result", pa.string())])
        self.writer = pq.ParquetWriter(str(path), self.schema)

    def write(self, lines: list[str]) -> None:
        rows = {name: [] for name in self.schema.names}
        for text in lines:
            result = json.loads(text)
            decision = result.get("decision") or {}
            verdicts = [line["verdict"] for line in decision.get("lines", [])]
            rows["index"].append(result["index"])
            rows["source"].append(result["source"])
            rows["encounter"].append(decision.get("encounter"))
            rows["payer"].append(decision.get("payer"))
            rows["policy_version"].append(decision.get("policy_version"))
            rows["ok"].append("decision" in result)
            for v in VERDICT_COLUMNS:
                rows[v].append(verdicts.count(v))
            rows["result"].append(text)
        self.writer.write_table(self.pa.table(rows, schema=self.schema))

    def close(self) -> None:
        self.writer.close()


def open_writer(path: Path, fmt: str):
    if fmt == "parquet":
        return ParquetWriter(path)
    return NdjsonWriter(path)
