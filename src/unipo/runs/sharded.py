"""Reading layout-2 steps: the shards of every rank merged into one step, rank-major.

Response numbers in a shard count from 0 within that rank; readers renumber them so that they are
unique across the step: rank r's responses follow those of the ranks present below r. Prompt and
group ids are written global by the producers and kept. A rank whose shard is missing (a dead
process) is simply absent: the step reads as the ranks present (`ranks(n)`, `missing(n, world)`).
"""
from __future__ import annotations

import contextlib
import json
import os
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from unipo.runs import aggregates, coalesce, parts
from unipo.runs.errors import RunFormatError, StepNotFoundError
from unipo.runs.files import RunFiles
from unipo.runs.schema import (
    RESPONSES_FILE, STEPS_DIR, TOKENS_FILE, rank_dir_name, rank_dir_number, step_dir_name, step_dir_number,
)
from unipo.runs.shard import ABSENT_KEY, CONSTANT_COLUMNS, CONSTANTS_KEY

_SHARD_FILE = re.compile(r"^step=(\d{6,})/rank=(\d{5,})/(responses|tokens)\.parquet$")
_READ_ERRORS = (OSError, pa.ArrowException, KeyError, ValueError, TypeError)


def _shard(step: int, rank: int, name: str) -> str:
    return f"{STEPS_DIR}/{step_dir_name(step)}/{rank_dir_name(rank)}/{name}"


class ShardedSteps:
    def __init__(self, files: RunFiles, describe):
        self.files = files
        self._describe = describe
        self._counts: dict[tuple, int] = {}

    # -- what is there ----------------------------------------------------------------------------
    def steps(self) -> dict[int, list[int]]:
        """{step: ranks with a complete shard}, sorted."""
        if not self.files.remote:
            return self._local_steps()
        found: dict[tuple[int, int], set[str]] = {}
        for relative in self.files.list_files(STEPS_DIR):
            match = _SHARD_FILE.match(relative[len(STEPS_DIR) + 1:])
            if match:
                found.setdefault((int(match.group(1)), int(match.group(2))), set()).add(match.group(3))
        shards: dict[int, list[int]] = {}
        for (step, rank), names in sorted(found.items()):
            if len(names) == 2:  # both files (on object stores they arrive one after the other)
                shards.setdefault(step, []).append(rank)
        return shards

    def _local_steps(self) -> dict[int, list[int]]:
        # A rank folder is renamed into place whole: its presence means a complete shard (one
        # listing per step, not per file: a run of thousands of steps x 64 ranks lists quickly).
        root = self.files.root / STEPS_DIR
        try:
            step_names = os.listdir(root)
        except FileNotFoundError:
            return {}
        shards: dict[int, list[int]] = {}
        for name in step_names:
            step = step_dir_number(name)
            if step is None:
                continue
            try:
                ranks = sorted(r for r in map(rank_dir_number, os.listdir(root / name)) if r is not None)
            except (FileNotFoundError, NotADirectoryError):
                continue
            if ranks:
                shards[step] = ranks
        return dict(sorted(shards.items()))

    def ranks(self, n: int) -> list[int]:
        ranks = self.steps().get(int(n))
        if not ranks:
            raise StepNotFoundError(f"{self.files.shown()}: no step {n} (steps present: {self._describe()})")
        return ranks

    def stamp(self, n: int) -> tuple:
        """A cache key that changes when any shard of step n is added or rewritten."""
        ranks = self.ranks(n)
        return tuple((rank, self.files.stamp(_shard(n, rank, RESPONSES_FILE))) for rank in ranks)

    def _offsets(self, n: int, ranks: list[int]) -> dict[int, int]:
        offsets, total = {}, 0
        for rank in ranks:
            offsets[rank] = total
            total += self._count(n, rank)
        return offsets

    def _count(self, n: int, rank: int) -> int:
        relative = _shard(n, rank, RESPONSES_FILE)
        key = (relative, self.files.stamp(relative))
        if key not in self._counts:
            with self._reading(relative):
                self._counts[key] = self.files.parquet(relative).metadata.num_rows
        return self._counts[key]

    # -- reading ----------------------------------------------------------------------------------
    def _reading(self, relative: str):
        return _read_errors(self.files.shown(relative))

    def _responses(self, n: int, rank: int, offset: int, columns: list[str] | None = None) -> pa.Table:
        relative = _shard(n, rank, RESPONSES_FILE)
        with self._reading(relative):
            parquet = self.files.parquet(relative)
            physical = parquet.schema_arrow.names
            stored = set(aggregates.aggregate_columns(parquet.schema_arrow).values())
            # The stored aggregates are not terms: read only by aggregates() below.
            keep = [c for c in physical if c not in stored] if columns is None else \
                [c for c in columns if c in physical and c not in stored]
            table = parquet.read(columns=keep)
            table = with_constants(table, parquet.schema_arrow, n, columns)
        if offset:
            index = table.schema.get_field_index("response")
            table = table.set_column(index, table.schema.field(index),
                                     pc.add(table.column("response"), np.int32(offset)))
        return table

    def _tokens(self, n: int, rank: int, offset: int, local: np.ndarray | None = None,
                columns: list[str] | None = None) -> pa.Table:
        relative = _shard(n, rank, TOKENS_FILE)
        with self._reading(relative):
            parquet = self.files.parquet(relative)
            schema = parquet.schema_arrow
            recipes = coalesce.recipes_of(schema)
            absent = absent_of(schema)
            names = logical_token_names(schema)
            wanted = names if columns is None else ["response"] + [c for c in names if c in columns and c != "response"]
            needed = coalesce.needed_for(recipes, list(wanted))
            stored = [c for c in needed if c not in absent]
            if local is None:
                table = parquet.read(columns=stored)
            else:
                groups = _row_groups_holding(parquet, local)
                table = parquet.read_row_groups(groups, columns=stored) if groups else \
                    schema.empty_table().select(stored)
                table = table.filter(pc.is_in(table.column("response"), pa.array(local, pa.int32())))
            table = _decoded(table, needed, absent, recipes, wanted)
        return _offset(table, offset)

    def token_batches(self, n: int, columns: list[str]):
        """`response` and `columns` of every token row of step n, one decoded row group at a time
        (rank-major, global response numbers): a whole-step reduction holds one row group of
        tokens, whatever the step size. `position` only when named (one column less to decode).
        StepNotFoundError for an unknown column."""
        names = [c for c in self._token_names(n, columns) if c != "position" or "position" in columns]
        ranks = self.ranks(n)
        offsets = self._offsets(n, ranks)
        for rank in ranks:
            relative = _shard(n, rank, TOKENS_FILE)
            with self._reading(relative):
                parquet = self.files.parquet(relative)
                schema = parquet.schema_arrow
                recipes, absent = coalesce.recipes_of(schema), absent_of(schema)
                needed = coalesce.needed_for(recipes, names)
                stored = [c for c in needed if c not in absent]
                groups = range(parquet.metadata.num_row_groups)
            for group in groups:
                with self._reading(relative):
                    table = _decoded(parquet.read_row_group(group, columns=stored), needed, absent, recipes, names)
                yield _offset(table, offsets[rank])

    def responses(self, n: int, columns: list[str] | None = None) -> pa.Table:
        """One row per response of step n, every rank present, global response numbers
        (`columns`: only these, `response` always included)."""
        ranks = self.ranks(n)
        offsets = self._offsets(n, ranks)
        if columns is not None:
            names = self._names(n, RESPONSES_FILE)
            columns = [c for c in names if c == "response" or c in columns]
        tables = [self._responses(n, rank, offsets[rank], columns) for rank in ranks]
        return _concat(tables)

    def aggregates(self, n: int):
        """The stored aggregates of step n (aggregates.py): (a table of `response` and the
        per-response keys, global numbers; {column: [ColumnSketch, exact stats or None] per rank})
        or None when a rank's shard has none (written before them)."""
        ranks = self.ranks(n)
        offsets = self._offsets(n, ranks)
        tables, sketches = [], {}
        for rank in ranks:
            relative = _shard(n, rank, RESPONSES_FILE)
            with self._reading(relative):
                parquet = self.files.parquet(relative)
                stored = aggregates.aggregate_columns(parquet.schema_arrow)
                if aggregates.AGGREGATES_KEY not in (parquet.schema_arrow.metadata or {}):
                    return None
                table = parquet.read(columns=["response", *stored.values()])
            table = table.rename_columns(["response", *stored.keys()]).replace_schema_metadata(None)
            if offsets[rank]:
                table = table.set_column(0, "response", pc.add(table.column("response"), np.int32(offsets[rank])))
            tables.append(table)
            relative = _shard(n, rank, TOKENS_FILE)
            with self._reading(relative):
                raw = (self.files.parquet(relative).schema_arrow.metadata or {}).get(aggregates.TOKEN_STATS_KEY)
            if raw is None:
                return None
            for name, data in json.loads(raw).items():
                sketches.setdefault(name, []).append((aggregates.ColumnSketch.from_json(data), data.get("stats")))
        if any(len(found) != len(ranks) for found in sketches.values()):
            sketches = {k: v for k, v in sketches.items() if len(v) == len(ranks)}
        return pa.concat_tables(tables, promote_options="default"), sketches

    def step(self, n: int, *, include_empty: bool) -> pa.Table:
        ranks = self.ranks(n)
        offsets = self._offsets(n, ranks)
        responses = _concat([self._responses(n, rank, offsets[rank]) for rank in ranks])
        tokens = _concat([self._tokens(n, rank, offsets[rank]) for rank in ranks])
        return parts.join(responses, tokens, include_empty=include_empty)

    def subset(self, n: int, column: str, value: int) -> pa.Table:
        """Token rows (no placeholders) of the responses whose `column` (prompt, response) is value."""
        responses = self.responses(n)
        chosen = responses.filter(pc.equal(responses.column(column), np.int32(value)))
        return self.rows_of(n, chosen, include_empty=False)

    def rows_of(self, n: int, chosen: pa.Table, *, include_empty: bool, columns: list[str] | None = None) -> pa.Table:
        """Logical rows of the responses in `chosen` (a filtered responses(n) table, any order)."""
        if chosen.num_rows:
            chosen = chosen.sort_by("response")
        ranks = self.ranks(n)
        offsets = self._offsets(n, ranks)
        ids = chosen.column("response").to_numpy()
        token_tables = []
        bounds = sorted(offsets.items(), key=lambda item: item[1])
        for i, (rank, offset) in enumerate(bounds):
            end = bounds[i + 1][1] if i + 1 < len(bounds) else np.iinfo(np.int32).max
            local = ids[(ids >= offset) & (ids < end)] - offset
            if len(local):
                token_tables.append(self._tokens(n, rank, offset, local.astype(np.int32), columns=columns))
        if not token_tables:
            token_tables = [self._tokens(n, ranks[0], 0, np.array([], np.int32), columns=columns)]
        return parts.join(chosen, _concat(token_tables), include_empty=include_empty, columns=columns)

    def token_page(self, n: int, responses: list[int], columns: list[str] | None) -> pa.Table:
        table = self.responses(n, columns=[] if columns is None else list(columns))
        wanted = np.unique(np.asarray(responses, dtype=np.int64))
        present = table.column("response").to_numpy()
        unknown = wanted[~np.isin(wanted, present)]
        if len(unknown):
            raise StepNotFoundError(f"{self.files.shown()}: step {n} has no response {int(unknown[0])} "
                                    f"(responses 0..{len(present) - 1})")
        chosen = table.filter(pc.is_in(table.column("response"), pa.array(wanted.astype(np.int32))))
        names = None if columns is None else \
            ["response", "position", *[c for c in columns if c not in ("response", "position")]]
        if names is None:
            names = ["response", *[c for c in self._names(n, TOKENS_FILE) if c != "response"]]
        rows = self.rows_of(n, chosen, include_empty=False, columns=names)
        missing = [c for c in names if c not in rows.column_names]
        if missing:
            raise StepNotFoundError(f"{self.files.shown()}: step {n} has no column {missing[0]!r}")
        return rows.select(names)

    def token_columns(self, n: int, columns: list[str]) -> pa.Table:
        """`response`, `position` and `columns` of every token row of step n (every rank, global
        response numbers, response then position order): only those columns (and the recipe inputs
        they decode from) are read, row group by row group, with no per-response filtering."""
        names = self._token_names(n, columns)
        ranks = self.ranks(n)
        offsets = self._offsets(n, ranks)
        return _concat([self._tokens(n, rank, offsets[rank], None, columns=names).select(names) for rank in ranks])

    def _token_names(self, n: int, columns: list[str]) -> list[str]:
        names = ["response", "position", *[c for c in dict.fromkeys(columns) if c not in ("response", "position")]]
        known = self._names(n, TOKENS_FILE)
        missing = [c for c in names if c not in known]
        if missing:
            raise StepNotFoundError(f"{self.files.shown()}: step {n} has no token column {missing[0]!r}")
        return names

    def _names(self, n: int, name: str) -> list[str]:
        relative = _shard(n, self.ranks(n)[0], name)
        with self._reading(relative):
            schema = self.files.parquet(relative).schema_arrow
        if name == TOKENS_FILE:
            return logical_token_names(schema)
        constants = [c for c in constants_of(schema) if c not in schema.names]
        return constants + schema.names


@contextlib.contextmanager
def _read_errors(where: str):
    """A file problem while reading a shard, as the store's errors naming the file."""
    try:
        yield
    except FileNotFoundError:
        raise StepNotFoundError(f"{where}: missing (removed while reading, or a link to a file outside "
                                "the run)") from None
    except StepNotFoundError:
        raise
    except _READ_ERRORS as exc:
        raise RunFormatError(f"{where}: not a readable step file ({exc})") from None


def constants_of(schema: pa.Schema) -> dict[str, int]:
    raw = (schema.metadata or {}).get(CONSTANTS_KEY)
    return json.loads(raw) if raw else {}


def absent_of(schema: pa.Schema) -> dict[str, int]:
    raw = (schema.metadata or {}).get(ABSENT_KEY)
    return json.loads(raw) if raw else {}


def logical_token_names(schema: pa.Schema) -> list[str]:
    """Stored columns plus the ones a one-part shard left out, each at its logical index."""
    names = list(schema.names)
    for name, index in sorted(absent_of(schema).items(), key=lambda item: item[1]):
        names.insert(min(int(index), len(names)), name)
    return names


def with_constants(table: pa.Table, schema: pa.Schema, step: int, columns: list[str] | None) -> pa.Table:
    """The shard's update numbers (metadata) as leading int32 columns, in their logical order."""
    constants = constants_of(schema)
    constants.setdefault("step", step)
    metadata = table.schema.metadata
    for index, name in enumerate(c for c in CONSTANT_COLUMNS if c in constants):
        if name in table.column_names or (columns is not None and name not in columns):
            continue
        table = table.add_column(min(index, table.num_columns), pa.field(name, pa.int32()),
                                 pa.array(np.full(table.num_rows, constants[name], np.int32)))
    return table.replace_schema_metadata(metadata)


def _row_groups_holding(parquet, local: np.ndarray) -> list[int]:
    if len(local) == 0:
        return []
    metadata = parquet.metadata
    index = parquet.schema_arrow.get_field_index("response")
    low, high = int(local.min()), int(local.max())
    wanted = np.sort(local)
    groups = []
    for g in range(metadata.num_row_groups):
        stats = metadata.row_group(g).column(index).statistics
        if stats is None or not stats.has_min_max:
            groups.append(g)
            continue
        if stats.max < low or stats.min > high:
            continue
        # Any wanted id inside [min, max]?
        k = np.searchsorted(wanted, stats.min)
        if k < len(wanted) and wanted[k] <= stats.max:
            groups.append(g)
    return groups


def _decoded(table: pa.Table, needed: list[str], absent: dict, recipes: dict, wanted: list[str]) -> pa.Table:
    for name in needed:
        if name in absent:  # left out of a one-part shard: no stored value on any row
            table = table.append_column(pa.field(name, pa.float32()), pa.nulls(table.num_rows, pa.float32()))
    return coalesce.decode(table, recipes).select(wanted).replace_schema_metadata(None)


def _offset(table: pa.Table, offset: int) -> pa.Table:
    if offset:
        table = table.set_column(0, table.schema.field(0), pc.add(table.column("response"), np.int32(offset)))
    return table


def _concat(tables: list[pa.Table]) -> pa.Table:
    if len(tables) == 1:
        return tables[0]
    metadata = tables[0].schema.metadata
    return pa.concat_tables(tables, promote_options="default").replace_schema_metadata(metadata)
