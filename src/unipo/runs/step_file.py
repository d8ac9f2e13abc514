"""Writing and reading step files: column encodings chosen for small files and cheap slices."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from unipo.runs import prediction
from unipo.runs.atomic import write_atomically
from unipo.runs.errors import RunFormatError
from unipo.runs.schema import REWARD_COMPONENT_PREFIX

PER_RESPONSE_FLOATS = ("reward",)
# Long texts repeated on every token row: read as dictionary arrays (each text materialised once).
DICTIONARY_READ_COLUMNS = ["prompt_text", "response_text"]

COMPRESSION = "zstd"
COMPRESSION_LEVEL = 6
# One row group per this many responses: reading one response decodes only its row group.
RESPONSES_PER_ROW_GROUP = 16
# Floats with at most this share of distinct values are dictionary-encoded (per-response constants,
# 0/1 flags, exact zeros compress to a few bits a row); the rest use byte-stream-split.
DICTIONARY_MAX_DISTINCT_SHARE = 0.25
# Positions count up by one inside a response: delta encoding stores them in ~0 bits.
DELTA_COLUMNS = ("position",)


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


def _few_distinct(column: pa.ChunkedArray) -> bool:
    valid = column.drop_null()
    if len(valid) == 0:
        return True
    # Distinct bit patterns (a view as uint32 avoids NaN != NaN and treats -0.0 apart, as Parquet does).
    bits = np.ascontiguousarray(valid.to_numpy()).view(np.uint32)
    return len(np.unique(bits)) <= max(16, DICTIONARY_MAX_DISTINCT_SHARE * len(bits))


def write_step_file(path: Path, table: pa.Table, *, responses_per_row_group: int = RESPONSES_PER_ROW_GROUP) -> None:
    """Write atomically (temp name, then rename): a reader never sees half a step."""
    table = prediction.encode(table, _token_float_columns(table))
    dictionary, explicit = choose_encodings(table)

    def write(tmp_path: Path) -> None:
        with pq.ParquetWriter(
            tmp_path, table.schema, compression=COMPRESSION, compression_level=COMPRESSION_LEVEL,
            use_dictionary=dictionary, column_encoding=explicit, write_statistics=True,
        ) as writer:
            for start, stop in _row_group_bounds(table, responses_per_row_group):
                writer.write_table(table.slice(start, stop - start), row_group_size=max(stop - start, 1))

    write_atomically(path, write)


def _token_float_columns(table: pa.Table) -> list[str]:
    return [field.name for field in table.schema
            if pa.types.is_float32(field.type) and field.name not in PER_RESPONSE_FLOATS
            and not field.name.startswith(REWARD_COMPONENT_PREFIX)]


def _row_group_bounds(table: pa.Table, responses_per_row_group: int) -> list[tuple[int, int]]:
    response = table.column("response").to_numpy()
    if len(response) == 0:
        return [(0, 0)]
    # Rows are sorted by response: cut where the response index crosses a multiple of the group size.
    bucket = response // max(responses_per_row_group, 1)
    cuts = np.flatnonzero(np.diff(bucket)) + 1
    edges = [0, *cuts.tolist(), len(response)]
    return list(zip(edges[:-1], edges[1:]))


def read_step_file(path: Path, *, where: tuple[str, int] | None = None, columns: list[str] | None = None) -> pa.Table:
    """The file's rows, or only those where column == value (row groups pruned by statistics)."""
    try:
        parquet = pq.ParquetFile(path, read_dictionary=DICTIONARY_READ_COLUMNS)
        recipes = prediction.recipes_of(parquet.schema_arrow)
        wanted = columns
        if columns is not None and recipes:
            columns = prediction.inputs_of(recipes, columns)
        if where is None:
            table = parquet.read(columns=columns)
        else:
            name, value = where
            groups = _row_groups_that_may_hold(parquet, path, name, value)
            read_columns = _with(columns, name)
            table = parquet.read_row_groups(groups, columns=read_columns) if groups else \
                parquet.schema_arrow.empty_table().select(read_columns or parquet.schema_arrow.names)
            table = table.filter(pc.equal(table.column(name), value))
        table = prediction.decode(table, recipes)
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
