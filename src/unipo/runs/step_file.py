"""Column encodings for the store's Parquet files, and reading the first layout's step files
(unipo-run/1, one steps/step-NNNNNN.parquet per update; written no more)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from unipo.runs import prediction
from unipo.runs.errors import RunFormatError

# Long texts repeated on every token row: read as dictionary arrays (each text materialised once).
DICTIONARY_READ_COLUMNS = ["prompt_text", "response_text"]

COMPRESSION = "zstd"
COMPRESSION_LEVEL = 6
# Floats with at most this share of distinct values are dictionary-encoded (per-response constants,
# 0/1 flags, exact zeros compress to a few bits a row); the rest use byte-stream-split.
DICTIONARY_MAX_DISTINCT_SHARE = 0.25
# Positions count up by one inside a response: delta encoding stores them in ~0 bits.
DELTA_COLUMNS = ("position",)
# pyarrow >= 16 writes key-value metadata without the Arrow schema copy.
_KEY_VALUE_METADATA = hasattr(pq.ParquetWriter, "add_key_value_metadata")


def choose_encodings(table: pa.Table) -> tuple[list[str], dict[str, str]]:
    """(columns to dictionary-encode, {column: explicit encoding}) for pyarrow's writer."""
    dictionary: list[str] = []
    explicit: dict[str, str] = {}
    for name, column in zip(table.column_names, table.columns):
        kind = column.type
        if name in DELTA_COLUMNS:
            explicit[name] = "DELTA_BINARY_PACKED"
        elif pa.types.is_floating(kind) and not _few_distinct(column):
            explicit[name] = "BYTE_STREAM_SPLIT"
        else:
            dictionary.append(name)
    return dictionary, explicit


# Past this many values the distinct share is judged on an evenly spaced sample first: a sort of
# every value was the largest single cost of writing a large step.
DISTINCT_SAMPLE = 8192


def _few_distinct(column: pa.ChunkedArray) -> bool:
    valid = column.drop_null()
    if len(valid) == 0:
        return True
    # Distinct bit patterns (a view as uint32 avoids NaN != NaN and treats -0.0 apart, as Parquet does).
    bits = np.ascontiguousarray(valid.to_numpy()).view(np.uint32)
    limit = max(16, DICTIONARY_MAX_DISTINCT_SHARE * len(bits))
    if len(bits) > 4 * DISTINCT_SAMPLE:
        sample = bits[np.linspace(0, len(bits) - 1, DISTINCT_SAMPLE).astype(np.int64)]
        seen = len(np.unique(sample))
        # A sample's distinct count never exceeds the column's, and its share is at least the
        # column's share of values that occur once: mostly distinct in the sample (random
        # mantissas) is mostly distinct in the column; few in the sample (flags, per-response
        # constants) is few in the column unless the rest differs, which the exact count decides.
        if seen > 2 * DICTIONARY_MAX_DISTINCT_SHARE * DISTINCT_SAMPLE:
            return False
        if seen <= 16:
            # Exact and cheap: every value is one of the sample's few (flags, exact zeros).
            known = np.unique(sample)
            if np.isin(bits, known, kind="table" if known[-1] - known[0] < 2**20 else None).all():
                return True
    return len(np.unique(bits)) <= limit


def read_step_schema(path: Path) -> pa.Schema:
    """The logical columns of a step file (as read_step_file returns them), without reading data."""
    try:
        physical = pq.read_schema(path)
        return prediction.StepLayout.of(physical).logical_schema(physical)
    except FileNotFoundError:
        raise
    except (OSError, pa.ArrowException, KeyError, ValueError, TypeError) as exc:
        raise RunFormatError(f"{path}: not a readable step file ({exc})") from None


def read_step_file(path: Path, *, where: tuple[str, int] | None = None, columns: list[str] | None = None) -> pa.Table:
    """The file's rows, or only those where column == value (row groups pruned by statistics)."""
    try:
        parquet = pq.ParquetFile(path, read_dictionary=DICTIONARY_READ_COLUMNS)
        layout = prediction.StepLayout.of(parquet.schema_arrow)
        wanted = columns
        needed = None
        if columns is not None or layout.virtual:
            needed = layout.inputs_of(list(columns) if columns is not None
                                      else layout.logical_names(parquet.schema_arrow.names))
            if where is not None and where[0] not in needed:
                needed.append(where[0])
            needed = layout.physical(needed) or ["response"]
        if where is None:
            table = parquet.read(columns=needed)
        else:
            name, value = where
            groups = _row_groups_that_may_hold(parquet, path, name, value)
            read_columns = _with(needed, name)
            table = parquet.read_row_groups(groups, columns=read_columns) if groups else \
                parquet.schema_arrow.empty_table().select(read_columns or parquet.schema_arrow.names)
            table = table.filter(pc.equal(table.column(name), value))
        table = prediction.decode(table, layout)
        return table.select(wanted) if wanted is not None else table
    except FileNotFoundError:
        raise
    except (OSError, pa.ArrowException, KeyError, ValueError, TypeError) as exc:
        raise RunFormatError(f"{path}: not a readable step file ({exc})") from None


def _with(columns: list[str] | None, name: str) -> list[str] | None:
    if columns is None or name in columns:
        return columns
    return [*columns, name]


def _row_groups_that_may_hold(parquet: pq.ParquetFile, path: Path, name: str, value: int) -> list[int]:
    metadata = parquet.metadata
    index = parquet.schema_arrow.get_field_index(name)
    if index < 0:
        raise RunFormatError(f"{path}: no column {name!r}")
    groups = []
    for g in range(metadata.num_row_groups):
        stats = metadata.row_group(g).column(index).statistics
        if stats is None or not stats.has_min_max or stats.min <= value <= stats.max:
            groups.append(g)
    return groups
