"""import_run: a practitioner's dump (a file or a folder) -> a run directory, all or nothing.

The chosen importer yields the header, then one Step at a time; each step is checked, laid out,
given the terms its inputs allow (unipo.algorithms.recompute) and written through RunWriter before
the next is read, so memory is bounded by one step, not by the dump.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

from unipo.errors import UnipoError
from unipo.importers import registry
from unipo.importers.algorithm_map import map_algorithm
from unipo.importers.builder import check_step_shape, to_record
from unipo.importers.parts import Header, Step
from unipo.importers.problems import Problems
from unipo.importers.report import ImportReport
from unipo.importers.source import Context, total_bytes
from unipo.importers.staging import move_into_place, remove_stale_staging, staging_path
from unipo.importers.terms import recompute_terms, spec_of
from unipo.importers.tokenize import load_tokenizer, tokenise
from unipo.runs.lock import check_no_writer
from unipo.runs.space import DiskFullError
from unipo.runs.writer import RunWriter, is_empty_run_directory


def import_run(source: str | Path, run_path: str | Path, *, format: str | None = None, tokenizer: str | None = None,
               algorithm: str | None = None, progress: bool = False) -> ImportReport:
    """Import source into run_path (which must be absent or empty). On any problem raise one
    UnipoError listing them (file, line, field) and leave nothing at run_path."""
    source, run_path = Path(source), Path(run_path)
    if not source.exists():
        raise UnipoError(f"{source}: no such file or folder")
    check_no_writer(run_path)
    if not is_empty_run_directory(run_path):
        raise UnipoError(f"{run_path}: already exists and is not empty (choose another --out)")
    chosen = registry.get(format) if format else registry.detect(source)
    if algorithm is not None:
        from unipo.importers.algorithm_map import preset_name
        if preset_name(algorithm) is None:
            from unipo.algorithms.presets import PRESETS
            raise UnipoError(f"--algorithm: {algorithm!r} is not a preset; valid: {', '.join(PRESETS)}")
    problems = Problems(str(source))
    bar = _progress_bar(total_bytes(source), chosen.name) if progress else None
    context = Context(root=source, problems=problems, advance=bar.update if bar else (lambda n: None),
                      tokenizer=load_tokenizer(tokenizer) if tokenizer else None)
    report = ImportReport(chosen.name, str(run_path))

    run_path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(run_path)
    staging = staging_path(run_path)
    shutil.rmtree(staging, ignore_errors=True)
    opened: list[RunWriter] = []
    try:
        _store(chosen, source, staging, context, report, algorithm, opened)
        if problems:
            raise problems.error()
        move_into_place(staging, run_path)
    except UnipoError as exc:
        message = str(exc)
        if str(staging) in message or staging.name in message:  # never name the hidden folder
            raise UnipoError(message.replace(str(staging), str(run_path)).replace(staging.name, run_path.name)) from None
        raise
    finally:
        if bar is not None:
            bar.close()
        for writer in opened:
            writer.release()
        shutil.rmtree(staging, ignore_errors=True)
    report.notes = context.notes + report.notes
    return report


def _progress_bar(total: int, label: str):
    from tqdm import tqdm
    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=f"import {label}",
                file=sys.stderr, dynamic_ncols=True, mininterval=0.5)


def _store(chosen, source: Path, staging: Path, context: Context, report: ImportReport, algorithm: str | None,
           opened: list[RunWriter]) -> None:
    problems = context.problems
    writer: RunWriter | None = None
    spec = None
    header_seen = False
    seen_steps: dict[int, str] = {}
    not_recomputed: set[str] = set()
    for part in chosen.read(source, context):
        if isinstance(part, Header):
            header_seen = True
            run_header = run_header_of(part, chosen, source, algorithm, context)
            spec = spec_of(run_header.get("algorithm"))
            if not problems:
                writer = RunWriter.create(staging, run_header)
                opened.append(writer)
            continue
        if not isinstance(part, Step):
            continue
        if not header_seen:
            raise UnipoError(f"importer {chosen.name!r} yielded a step before its header (a bug in the importer)")
        if part.step in seen_steps:
            problems.add(part.step_at or f"{part.where}: step", f"step {part.step} already given at {seen_steps[part.step]}")
            continue
        seen_steps[part.step] = part.where.split(": ")[0]
        record = None
        if part.responses:
            if context.tokenizer is not None:
                for response in part.responses:
                    try:
                        tokenise(context.tokenizer, response)
                    except (IndexError, ValueError, TypeError, OverflowError, KeyError) as exc:
                        problems.add(f"{response.where}: tokens", f"the tokenizer cannot encode/decode it ({exc})"[:300])
            shape = check_step_shape(part, problems)
            if shape is None:
                continue
            record = to_record(part, shape)
            if spec is not None:
                terms, why = recompute_terms(spec, record)
                for name, values in terms.items():
                    if name not in record.terms and name not in _record_arrays(record):
                        record.terms[name] = values
                        report.recomputed.add(name)
                not_recomputed.update(why)
        report.add_step(record)
        if writer is None or problems:
            continue
        try:
            if record is None:
                writer.append_metrics(part.step, part.metrics)
            else:
                writer.write_update(part.step, record, part.metrics)
        except DiskFullError:
            raise  # not a problem of the input
        except UnipoError as exc:
            problems.add(part.where, str(exc))
    if not header_seen:
        problems.add(context.name(source) or "file", "no run found (no header and no step)")
    elif not report.steps and not problems:
        problems.add(context.name(source) or "file", f"no step found: is this a {chosen.name} dump? ({chosen.summary})")
    if spec is None and report.responses:
        report.notes.append("no algorithm: terms were not recomputed (give --algorithm PRESET)")
    for why in sorted(not_recomputed):
        report.notes.append(f"terms not recomputed on some steps: {why}")
    if writer is not None and not problems:
        writer.set_status("finished")


def _record_arrays(record) -> set[str]:
    return {name for name, values in (("logprob", record.logprob), ("old_logprob", record.old_logprob),
                                      ("ref_logprob", record.ref_logprob), ("value", record.value),
                                      ("return", record.returns), ("entropy", record.entropy)) if values is not None}


def run_header_of(part: Header, chosen, source: Path, algorithm: str | None, context: Context) -> dict[str, Any]:
    """run.json of the imported run: the fields the importer maps, the algorithm mapped to a spec,
    and everything the source's header held (unknown keys included) under imported_from.header."""
    header = dict(part.fields)
    if header.pop("_exact", False) and algorithm is None:
        return header  # a UNIPO export's own run.json: restored as it was
    if header.get("imported_from") is None:
        header["imported_from"] = {"file": source.name, "format": chosen.name, "importer": chosen.name,
                                   "importer_version": chosen.version,
                                   **({"header": part.source_header} if part.source_header is not None else {})}
    if part.algorithm is not None or algorithm is not None:
        mapped = map_algorithm(part.algorithm, part.hparams, algorithm)
        if mapped.spec is not None:
            header["algorithm"] = mapped.spec
        elif part.algorithm is not None:
            header["algorithm"] = part.algorithm if isinstance(part.algorithm, dict) else {"name": str(part.algorithm)}
        if mapped.source:
            header["algorithm_source"] = mapped.source
        for note in mapped.notes:
            context.note(note)
    if part.hparams is not None and "config" not in header:
        header["config"] = part.hparams
    header.setdefault("name", source.stem if source.is_file() else source.resolve().name)
    return header
