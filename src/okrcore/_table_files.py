"""CSV and Parquet files of rows (dictionaries keyed by column name): the file formats of
:mod:`okrcore.exchange`, apart from what its columns mean. CSV uses the standard library; Parquet
needs pyarrow, imported only when a Parquet file is read or written.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import Any

from .errors import OkrError, PlanError, Problem

Row = dict[str, Any]


def find_table(folder: Path, name: str) -> Path | None:
    """``name.csv`` or ``name.parquet`` in ``folder``, when there is one."""
    for suffix in ("csv", "parquet"):
        path = folder / f"{name}.{suffix}"
        if path.is_file():
            return path
    return None


def cell(value: Any) -> str:
    """CSV text that reads back to the same value: whole floats without '.0', ISO dates."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


def write_csv(path: Path, columns: Sequence[str], rows: Iterable[Row]) -> None:
    """Write ``rows`` as UTF-8 CSV under a header of ``columns``, each cell as :func:`cell`."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows([cell(row.get(c)) for c in columns] for row in rows)


def write_parquet(
    path: Path, columns: Sequence[str], rows: Sequence[Row], *, numbers: Collection[str]
) -> None:
    """Write ``rows`` as Parquet: the ``numbers`` columns as float64, the others as text."""
    pa, pq = _pyarrow()
    # numbers as float64, everything else as text or dates: the shape BI tools type best
    data = {
        c: [r.get(c) for r in rows] if c in numbers else [_text_or_none(r.get(c)) for r in rows]
        for c in columns
    }
    schema = pa.schema([(c, pa.float64() if c in numbers else pa.string()) for c in columns])
    pq.write_table(pa.table(data, schema=schema), str(path))


def _text_or_none(value: Any) -> str | None:
    return None if value is None else cell(value)


def read_rows(path: Path) -> list[Row]:
    """The rows of a CSV or Parquet file, as dictionaries keyed by column name."""
    if path.suffix == ".parquet":
        _pa, pq = _pyarrow()
        return list(pq.read_table(str(path)).to_pylist())
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:  # Excel writes a BOM
            return list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise PlanError([Problem("", f"cannot read: {exc}")], str(path)) from None


def _pyarrow() -> tuple[Any, Any]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ModuleNotFoundError:
        raise OkrError("Parquet needs pyarrow: pip install pyarrow (or use CSV)") from None
    return pa, pq
