"""Questions over a whole run in SQL: DuckDB views over the run's Parquet files (docs/store.md).

Views (every column logical: predicted columns decoded as nullif(coalesce(stored, recipe), NaN)):
- `tokens`    one row per completion token: step, rank, response (unique in the step, as RunReader
              numbers it), position, token_id, token, logprob, ..., every per-token term;
- `responses` one row per response: step, rank, response, prompt, group, texts, reward, reward_*,
              response_length, truncated, per-response terms, token_count;
- `steps`     one row per step: step, ranks, responses, tokens;
- `metrics`   metrics.jsonl (one row per update).
Join tokens to responses with `USING (step, response)`.
"""
from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa

from unipo.errors import UnipoError
from unipo.runs import coalesce
from unipo.runs.files import RunFiles
from unipo.runs.reader import RunReader
from unipo.runs.schema import LEGACY_FORMAT, RESPONSES_FILE, STEPS_DIR, TOKENS_FILE
from unipo.runs.shard import CONSTANT_COLUMNS
from unipo.runs.sharded import ShardedSteps, absent_of, constants_of

VIEWS = ("tokens", "responses", "steps", "metrics")


class QueryError(UnipoError):
    """Bad SQL (or a query DuckDB cannot run): the message is DuckDB's, prefixed by what failed."""


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _file_list(paths: list[str]) -> str:
    return "[" + ", ".join(_literal(p) for p in paths) + "]"


def connect(run: str | os.PathLike | RunReader, connection=None):
    """A DuckDB connection with the run's views (tokens, responses, steps, metrics)."""
    import duckdb

    reader = run if isinstance(run, RunReader) else RunReader(run)
    if reader.header.get("format") == LEGACY_FORMAT:
        raise UnipoError(f"{reader.files.shown()}: written in the older store format {LEGACY_FORMAT!r}; "
                         "SQL queries need a run written by this version")
    con = connection if connection is not None else duckdb.connect()
    files = reader.files
    if files.remote:
        con.register_filesystem(files.fs)
    shards = ShardedSteps(files, lambda: "").steps()
    pairs = [(step, rank) for step, ranks in shards.items() for rank in ranks]

    def path(step: int, rank: int, name: str) -> str:
        relative = f"{STEPS_DIR}/step={step:06d}/rank={rank:05d}/{name}"
        if files.remote:
            return f"{files.fs.unstrip_protocol(str(files.full(relative)))}"
        return str(files.full(relative))

    read = "hive_partitioning = true, hive_types = {'step': INTEGER, 'rank': INTEGER}, union_by_name = true"
    if not pairs:
        _empty_views(con, reader)
        return con
    footers = _footers(files, pairs)

    # responses: the update numbers a shard keeps in its metadata come from a small side table.
    response_files = [path(s, r, RESPONSES_FILE) for s, r in pairs]
    stored = set().union(*(set(f["responses"]) for f in footers))
    constants = pa.table({
        "step": pa.array([s for s, _ in pairs], pa.int32()), "rank": pa.array([r for _, r in pairs], pa.int32()),
        **{name: pa.array([f["constants"].get(name) for f in footers], pa.int32()) for name in CONSTANT_COLUMNS[1:]}})
    con.register("_shard_constants", constants)
    numbers = ", ".join(f"CAST(coalesce(r.{name}, c.{name}) AS INTEGER) AS {name}" if name in stored
                        else f"c.{name} AS {name}" for name in CONSTANT_COLUMNS[1:])
    excluded = ", ".join(["step", "rank", *[n for n in CONSTANT_COLUMNS[1:] if n in stored]])
    con.execute(f"""CREATE OR REPLACE TEMP VIEW _responses_raw AS
        SELECT r.step, {numbers}, r.* EXCLUDE ({excluded}), r.rank
        FROM read_parquet({_file_list(response_files)}, {read}) r JOIN _shard_constants c USING (step, rank)""")
    # Responses are numbered per rank in the files; as RunReader does, rank r's follow the lower ranks'.
    con.execute("""CREATE OR REPLACE TEMP VIEW _offsets AS
        SELECT step, rank, CAST(coalesce(sum(n) OVER (PARTITION BY step ORDER BY rank
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS INTEGER) AS base
        FROM (SELECT step, rank, count(*) AS n FROM _responses_raw GROUP BY step, rank)""")
    con.execute("""CREATE OR REPLACE TEMP VIEW responses AS
        SELECT r.* EXCLUDE (rank) REPLACE (CAST(r.response + o.base AS INTEGER) AS response), r.rank
        FROM _responses_raw r JOIN _offsets o USING (step, rank)""")

    # tokens: files grouped by how they are stored (recipes, columns left out, stored columns).
    groups: dict[str, list[str]] = {}
    for (s, r), footer in zip(pairs, footers):
        key = json.dumps([footer["recipes"], footer["absent"], footer["tokens"]], sort_keys=True)
        groups.setdefault(key, []).append(path(s, r, TOKENS_FILE))
    parts = []
    for i, (key, members) in enumerate(groups.items()):
        recipes, absent, names = json.loads(key)
        logical = _logical_names(names, absent)
        columns = ", ".join(f"CAST(NULL AS FLOAT) AS {_quote(n)}" if n in absent else _quote(n) for n in logical)
        sql = f"SELECT step, rank, {columns} FROM read_parquet({_file_list(members)}, {read})"
        for layer in coalesce.sql_layers(recipes, _quote):
            replaced = ", ".join(f"{expression} AS {_quote(name)}" for name, expression in layer.items())
            sql = f"SELECT * REPLACE ({replaced}) FROM ({sql})"
        con.execute(f"CREATE OR REPLACE TEMP VIEW _tokens_{i} AS {sql}")
        parts.append(f"SELECT * FROM _tokens_{i}")
    union = " UNION ALL BY NAME ".join(parts)
    con.execute(f"""CREATE OR REPLACE TEMP VIEW tokens AS
        SELECT t.step, t.rank, CAST(t.response + o.base AS INTEGER) AS response,
               t.* EXCLUDE (step, rank, response)
        FROM ({union}) t JOIN _offsets o USING (step, rank)""")
    con.execute("""CREATE OR REPLACE TEMP VIEW steps AS
        SELECT step, count(DISTINCT rank) AS ranks, count(*) AS responses, CAST(sum(token_count) AS BIGINT) AS tokens
        FROM _responses_raw GROUP BY step""")
    _metrics_view(con, reader)
    return con


def _logical_names(names: list[str], absent: dict[str, int]) -> list[str]:
    logical = list(names)
    for name, index in sorted(absent.items(), key=lambda item: item[1]):
        logical.insert(min(int(index), len(logical)), name)
    return logical


def _footers(files: RunFiles, pairs: list[tuple[int, int]]) -> list[dict]:
    """What the views need from each shard's two footers (read a few at a time)."""
    def read(pair: tuple[int, int]) -> dict:
        step, rank = pair
        folder = f"{STEPS_DIR}/step={step:06d}/rank={rank:05d}"
        tokens = files.parquet(f"{folder}/{TOKENS_FILE}").schema_arrow
        responses = files.parquet(f"{folder}/{RESPONSES_FILE}").schema_arrow
        return {"recipes": coalesce.recipes_of(tokens), "absent": absent_of(tokens), "tokens": tokens.names,
                "constants": constants_of(responses), "responses": responses.names}

    with ThreadPoolExecutor(max_workers=8 if files.remote else 4) as pool:
        return list(pool.map(read, pairs))


def _metrics_view(con, reader: RunReader) -> None:
    rows = reader.metrics()
    table = pa.table({name: pa.array(values) for name, values in rows.items()}) if rows.get("step") else \
        pa.table({"step": pa.array([], pa.int64())})
    con.register("_metrics_arrow", table)
    con.execute("CREATE OR REPLACE TEMP VIEW metrics AS SELECT * FROM _metrics_arrow")


def _empty_views(con, reader: RunReader) -> None:
    con.execute("CREATE OR REPLACE TEMP VIEW tokens AS SELECT NULL::INTEGER AS step, NULL::INTEGER AS rank, "
                "NULL::INTEGER AS response, NULL::INTEGER AS position WHERE false")
    con.execute("CREATE OR REPLACE TEMP VIEW responses AS SELECT NULL::INTEGER AS step, NULL::INTEGER AS rank, "
                "NULL::INTEGER AS response WHERE false")
    con.execute("CREATE OR REPLACE TEMP VIEW steps AS SELECT NULL::INTEGER AS step WHERE false")
    _metrics_view(con, reader)


def relation(connection, sql: str):
    """DuckDB's relation for `sql` on a connect()ed connection (QueryError for bad SQL)."""
    import duckdb

    try:
        return connection.sql(sql)
    except duckdb.Error as exc:
        message = " ".join(str(exc).split())
        raise QueryError(f"the query failed: {message} (views: {', '.join(VIEWS)}; "
                         f"see `unipo query RUN --schema`)") from None


def query(run: str | os.PathLike | RunReader, sql: str, connection=None) -> pa.Table:
    """The result of one SQL statement over the run's views, as an Arrow table."""
    import duckdb

    found = relation(connect(run, connection), sql)
    if found is None:
        return pa.table({})
    try:
        # duckdb >= 1.4 names it to_arrow_table; earlier versions arrow().
        to_arrow = getattr(found, "to_arrow_table", None) or found.arrow
        table = to_arrow()
        return table.read_all() if isinstance(table, pa.RecordBatchReader) else table
    except duckdb.Error as exc:
        raise QueryError(f"the query failed: {' '.join(str(exc).split())}") from None


def describe(run: str | os.PathLike | RunReader, connection=None) -> dict[str, list[tuple[str, str]]]:
    """{view: [(column, type)]} of a run's views."""
    con = connect(run, connection)
    found: dict[str, list[tuple[str, str]]] = {}
    for view in VIEWS:
        found[view] = [(row[0], row[1]) for row in con.execute(f"DESCRIBE {view}").fetchall()]
    return found


