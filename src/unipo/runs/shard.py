"""Writing one shard (step, rank) of a layout-2 run: streamed row groups, then one rename.

A shard is two Parquet files (responses.parquet, tokens.parquet) written in a private folder under
<run>/.staging/ while the producer appends parts (each a StepRecord of the next responses); row
groups go to disk as parts arrive, so memory holds one part whatever the step size. commit()
renames the folder to steps/step=N/rank=R/ (readers see all of it or nothing); abort() — or any
exception inside `with` — removes it, leaving nothing that blocks a retry.
"""
from __future__ import annotations

import itertools
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from unipo.errors import UnipoError
from unipo.runs import aggregates, coalesce, parts, prediction
from unipo.runs.record import StepRecord
from unipo.runs.schema import (
    RESPONSES_FILE, STAGING_DIR, STEP_COLUMNS, TOKENS_FILE, rank_dir_name, shard_path, step_dir_name,
)
from unipo.runs.space import disk_full_as_error
from unipo.runs.step_file import COMPRESSION, _KEY_VALUE_METADATA, choose_encodings

# Token row groups hold whole responses and close at the first response start at or past this many
# rows: big enough that footers stay a small share of a large step, small enough that a page of
# responses decodes little more than itself (row groups are pruned by `response` statistics).
ROWS_PER_ROW_GROUP = 32768
TOKEN_STATISTICS = ["response"]
RESPONSE_STATISTICS = ["response", "prompt"]
# Key-value metadata: the update's numbers of a shard, and float columns a one-part shard leaves out.
CONSTANTS_KEY = b"unipo.constants"
ABSENT_KEY = b"unipo.absent"
CONSTANT_COLUMNS = STEP_COLUMNS
DELTA_COLUMNS = ("response", "position", "prompt", "group", "response_length", "token_count")
# Response texts are mostly distinct (dictionary pages would only add); prompts repeat per group.
PLAIN_TEXT_COLUMNS = ("response_text",)

# zstd level 3: a large step writes ~25% faster than at 6 for <1% more bytes (float columns are
# byte-stream-split; what is left is mostly random mantissa bits).
COMPRESSION_LEVEL = 3

_counter = itertools.count()


def staging_root(run_path: Path) -> Path:
    return run_path / STAGING_DIR


def remove_stale_staging(run_path: Path, rank: int | None = None) -> None:
    """Remove staging folders left by dead processes of this host (a kill -9 mid-step)."""
    root = staging_root(run_path)
    try:
        entries = list(root.iterdir())
    except FileNotFoundError:
        return
    for entry in entries:
        fields = entry.name.split(".")
        if len(fields) < 4 or (rank is not None and fields[1] != rank_dir_name(rank)):
            continue
        try:
            pid = int(fields[2])
        except ValueError:
            continue
        if pid != os.getpid() and not _alive(pid):
            shutil.rmtree(entry, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


class ShardStream:
    """`with writer.step_stream(step, rank) as sink: sink.append(part)`; see the module docstring."""

    def __init__(self, run_path: Path, step: int, rank: int, memory: prediction.EncodingMemory | None = None,
                 *, rows_per_row_group: int = ROWS_PER_ROW_GROUP):
        self.run_path, self.step, self.rank = run_path, step, rank
        self.target = shard_path(run_path, step, rank)
        self._memory = memory if memory is not None else prediction.EncodingMemory()
        self._rows_per_row_group = rows_per_row_group
        self._folder = staging_root(run_path) / (
            f"{step_dir_name(step)}.{rank_dir_name(rank)}.{os.getpid()}.{next(_counter)}")
        self._writers: dict[str, pq.ParquetWriter] = {}
        self._schemas: dict[str, pa.Schema] = {}
        self._first: dict[str, pa.Schema] = {}
        self._metadata: dict[str, dict] = {}
        self._recipes: dict[str, list] | None = None
        self._constants: dict[str, int] | None = None
        self._pending: tuple[pa.Table, pa.Table] | None = None
        self._responses = 0
        self._parts = 0
        self._bytes = 0
        self._done = False
        # Whole-shard sketches of the colour columns (aggregates.py), merged part by part.
        self._sketches: dict[str, aggregates.ColumnSketch] = {}
        self._exact_stats: dict[str, dict] = {}
        self._token_rows = 0

    # -- appending ------------------------------------------------------------------------------
    def append(self, part: StepRecord | pa.Table | tuple[pa.Table, pa.Table]) -> None:
        """Write the next responses (numbered on from the previous parts)."""
        if self._done:
            raise UnipoError(f"step {self.step}: this step stream is already closed")
        try:
            responses, tokens = self._prepare(part)
            # The first part waits: if it is the only one, columns it does not need are left out.
            pending, self._pending = self._pending, None
            if pending is None and not self._writers:
                self._pending = (responses, tokens)
            else:
                with disk_full_as_error(self.target / TOKENS_FILE, self._what, needed=self._bytes + tokens.nbytes):
                    if pending is not None:
                        self._write_part(*pending, compact=False)
                    self._write_part(responses, tokens, compact=False)
        except BaseException:
            self.abort()
            raise
        self._bytes += responses.nbytes + tokens.nbytes
        self._responses += responses.num_rows

    @property
    def _what(self) -> str:
        return f"step {self.step}" if self.rank == 0 else f"step {self.step} (rank {self.rank})"

    def _prepare(self, part) -> tuple[pa.Table, pa.Table]:
        if isinstance(part, StepRecord):
            responses, tokens = part.to_parts(self.step, response_offset=self._responses)
        elif isinstance(part, pa.Table):
            responses, tokens = parts.split(part)
            responses, tokens = _renumbered(responses, tokens, self._responses)
        else:
            responses, tokens = part
        self._parts += 1
        for name, table in ((RESPONSES_FILE, responses), (TOKENS_FILE, tokens)):
            first = self._first.setdefault(name, table.schema)
            if not table.schema.equals(first):
                raise UnipoError(f"step {self.step}: part {self._parts} has other columns or types than the "
                                 f"first part ({_difference(first, table.schema)})")
        responses = self._without_constants(responses)
        responses = self._with_aggregates(responses, tokens)
        if self._recipes is None:
            floats = [f.name for f in tokens.schema if pa.types.is_float32(f.type)]
            self._recipes = coalesce.choose_recipes(tokens, floats, self._memory)
        return responses, coalesce.encode(tokens, self._recipes)

    def _without_constants(self, responses: pa.Table) -> pa.Table:
        """The update's numbers (step, rollout, epoch, minibatch) are one value per shard: kept in the
        metadata (`unipo.constants`; step is also the folder's Hive partition), not per row."""
        found = {}
        for name in CONSTANT_COLUMNS:
            if name not in responses.column_names:
                continue
            column = responses.column(name)
            values = column.to_numpy(zero_copy_only=False) if column.null_count == 0 else None
            if values is not None and len(values) and (values == values[0]).all():
                found[name] = int(values[0])
            elif values is not None and not len(values):
                found[name] = self.step if name == "step" else None
        if self._constants is None:
            self._constants = {k: v for k, v in found.items() if v is not None}
        elif any(found.get(k, v) != v for k, v in self._constants.items()):
            raise UnipoError(f"step {self.step}: part {self._parts} has another rollout, epoch or minibatch "
                             f"than the first part ({found} vs {self._constants})")
        dropped = [name for name in self._constants if name in responses.column_names]
        metadata = {**(responses.schema.metadata or {}), CONSTANTS_KEY: _compact(self._constants)}
        return responses.drop_columns(dropped).replace_schema_metadata(metadata)

    def _with_aggregates(self, responses: pa.Table, tokens: pa.Table) -> pa.Table:
        """Per-response sums as `agg_*` columns and the colour columns' sketches, from the part's
        token rows before encoding: a step summary's first paint then reads no token column."""
        ids = responses.column("response").to_numpy(zero_copy_only=False).astype(np.int64)
        order = np.argsort(ids, kind="stable")
        found = aggregates.response_aggregates(ids[order], tokens)
        for key, values in found.items():
            placed = np.empty(len(ids))
            placed[order] = values
            responses = responses.append_column(aggregates.AGGREGATE_PREFIX + key, pa.array(placed, pa.float64()))
        metadata = {**(responses.schema.metadata or {}), aggregates.AGGREGATES_KEY: _compact(sorted(found))}
        parts_sketches = aggregates.token_sketches(tokens)
        self._token_rows += tokens.num_rows
        if self._parts == 1:
            # A shard of one part: its stats are exact (kept unless another part arrives).
            self._exact_stats = {name: aggregates.column_stats(tokens.column(name).to_numpy(zero_copy_only=False))
                                 for name in parts_sketches}
        else:
            self._exact_stats = {}
        for name, sketch in parts_sketches.items():
            old = self._sketches.get(name)
            self._sketches[name] = sketch if old is None else aggregates.ColumnSketch.merged([old, sketch]).thinned()
        return responses.replace_schema_metadata(metadata)

    def _token_stats(self) -> bytes:
        return _compact({name: {**sketch.to_json(), **({"stats": self._exact_stats[name]}
                                                       if name in self._exact_stats else {})}
                         for name, sketch in self._sketches.items()})

    def _write_part(self, responses: pa.Table, tokens: pa.Table, *, compact: bool) -> None:
        if compact:
            # A one-part shard leaves out the float columns it stores nothing in (all null: the
            # recipe is exact on every row, or the column was not logged); their logical index and
            # recipe stay in the metadata (`unipo.absent`, `unipo.coalesce`).
            absent = {f.name: i for i, f in enumerate(tokens.schema)
                      if pa.types.is_float32(f.type) and tokens.column(f.name).null_count == tokens.num_rows
                      and tokens.num_rows > 0}
            if absent:
                metadata = {**(tokens.schema.metadata or {}), ABSENT_KEY: _compact(absent)}
                tokens = tokens.drop_columns(list(absent)).replace_schema_metadata(metadata)
        if compact and tokens.num_rows < aggregates.MIN_SKETCH_TOKENS:
            # A small one-part shard: no stored aggregates (the summary's scan of it is quick, and
            # the columns would add to a demo run's bytes per token).
            stored = [c for c in responses.column_names if c.startswith(aggregates.AGGREGATE_PREFIX)]
            metadata = {k: v for k, v in (responses.schema.metadata or {}).items() if k != aggregates.AGGREGATES_KEY}
            responses = responses.drop_columns(stored).replace_schema_metadata(metadata)
        self._folder.mkdir(parents=True, exist_ok=True)
        self._write(RESPONSES_FILE, responses, RESPONSE_STATISTICS, whole=True)
        self._write(TOKENS_FILE, tokens, TOKEN_STATISTICS, whole=False)

    def _write(self, name: str, table: pa.Table, statistics: list[str], *, whole: bool) -> None:
        metadata = dict(table.schema.metadata or {})
        table = table.replace_schema_metadata(None)
        writer = self._writers.get(name)
        if writer is None:
            dictionary, explicit = choose_encodings(table)
            # Sorted or small ints (response, prompt, group, lengths, positions): deltas beat a dictionary.
            for column in DELTA_COLUMNS:
                if column in table.column_names and pa.types.is_int32(table.schema.field(column).type):
                    explicit[column] = "DELTA_BINARY_PACKED"
            dictionary = [c for c in dictionary if c not in PLAIN_TEXT_COLUMNS and c not in explicit]
            # No Arrow schema copy in the footer: the stored types read back as written, and our
            # keys (recipes, per-response terms) go in as plain key-value metadata at close.
            writer = pq.ParquetWriter(
                self._folder / name, table.schema, compression=COMPRESSION, compression_level=COMPRESSION_LEVEL,
                use_dictionary=dictionary, column_encoding=explicit,
                write_statistics=[c for c in statistics if c in table.column_names] or False,
                store_schema=not _KEY_VALUE_METADATA)
            self._writers[name], self._schemas[name], self._metadata[name] = writer, table.schema, metadata
        bounds = [(0, table.num_rows)] if whole else _bounds(table, self._rows_per_row_group)
        for start, stop in bounds:
            writer.write_table(table.slice(start, stop - start), row_group_size=max(stop - start, 1))

    # -- finishing ------------------------------------------------------------------------------
    def commit(self) -> None:
        """Close the files and move the shard into place (replacing an older copy of it)."""
        if self._done:
            return
        if not self._writers and self._pending is None:
            raise UnipoError(f"step {self.step}: nothing was appended to the step stream")
        with disk_full_as_error(self.target / TOKENS_FILE, self._what, needed=self._bytes):
            try:
                if self._pending is not None:
                    pending, self._pending = self._pending, None
                    self._write_part(*pending, compact=True)
                if TOKENS_FILE in self._metadata and self._token_rows >= aggregates.MIN_SKETCH_TOKENS:
                    self._metadata[TOKENS_FILE][aggregates.TOKEN_STATS_KEY] = self._token_stats()
                for name, writer in self._writers.items():
                    if _KEY_VALUE_METADATA and self._metadata[name]:
                        writer.add_key_value_metadata(self._metadata[name])
                    writer.close()
                for name in self._writers:
                    with open(self._folder / name, "rb") as handle:
                        os.fsync(handle.fileno())
                self._writers = {}
                self._move_into_place()
            except BaseException:
                self.abort()
                raise
        self._done = True

    def _move_into_place(self) -> None:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        old = None
        if self.target.exists():
            # A directory cannot be renamed over a full one: move the old shard aside first.
            old = self._folder.with_name(self._folder.name + ".old")
            os.rename(self.target, old)
        os.rename(self._folder, self.target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def abort(self) -> None:
        """Drop everything written so far (nothing of this shard becomes visible)."""
        self._done = True
        self._pending = None
        for writer in self._writers.values():
            try:
                writer.close()
            except Exception:  # noqa: BLE001 - the folder is removed anyway
                pass
        self._writers = {}
        shutil.rmtree(self._folder, ignore_errors=True)

    def __enter__(self) -> "ShardStream":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def _bounds(table: pa.Table, rows_per_row_group: int) -> list[tuple[int, int]]:
    if table.num_rows == 0:
        return [(0, 0)]
    response = table.column("response").to_numpy()
    starts = np.flatnonzero(np.r_[True, response[1:] != response[:-1]])
    edges = [0]
    for start in starts[1:].tolist():
        if start - edges[-1] >= rows_per_row_group:
            edges.append(start)
    edges.append(len(response))
    return list(zip(edges[:-1], edges[1:]))


def _renumbered(responses: pa.Table, tokens: pa.Table, offset: int) -> tuple[pa.Table, pa.Table]:
    old = responses.column("response").to_numpy()
    new_ids = np.arange(offset, offset + len(old), dtype=np.int32)
    if np.array_equal(old, new_ids):
        return responses, tokens
    mapping = np.searchsorted(old, tokens.column("response").to_numpy())
    responses = responses.set_column(responses.schema.get_field_index("response"), "response", pa.array(new_ids))
    tokens = tokens.set_column(0, "response", pa.array(new_ids[mapping]))
    return responses, tokens


def _compact(value) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _difference(first: pa.Schema, other: pa.Schema) -> str:
    missing = [n for n in first.names if n not in other.names]
    extra = [n for n in other.names if n not in first.names]
    changed = [n for n in first.names if n in other.names and first.field(n).type != other.field(n).type]
    notes = []
    if missing:
        notes.append("missing " + ", ".join(missing))
    if extra:
        notes.append("new " + ", ".join(extra))
    if changed:
        notes.append("other type for " + ", ".join(changed))
    return "; ".join(notes) or "column order differs"
