from __future__ import annotations
import json, os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence
import polars as pl

@dataclass(frozen=True, slots=True)
class RawDoc:
    path: str
    external_id: str | None
    text: str | None
    status: str
    reason: str | None
    encoding: str | None
    n_bytes: int

def iter_documents(inputs: Sequence[str | Path], *, text_column: str = "text", id_column: str | None = None) -> Iterator[RawDoc]:
    for inp in inputs:
        p = Path(inp)
        files = sorted(x for x in p.rglob("*") if x.is_file()) if p.is_dir() else [p]
        for f in files:
            b = f.read_bytes()
            try:
                t = b.decode("utf-8"); enc = "utf-8"
            except UnicodeDecodeError:
                t = b.decode("cp1252", errors="replace"); enc = "cp1252"
            yield RawDoc(str(f), None, t.replace("\r\n", "\n"), "ok", None, enc, len(b))

def write_parquet_atomic(df: pl.DataFrame, path: Path) -> None:
    tmp = path.with_suffix(".tmp"); df.write_parquet(tmp); os.replace(tmp, path)

def write_json_atomic(obj: Any, path: Path) -> None:
    tmp = path.with_suffix(".tmp"); tmp.write_text(json.dumps(obj, indent=2)); os.replace(tmp, path)

def read_json(path: Path) -> Any:
    return json.loads(path.read_text())
