"""End to end: a step of 2,000 responses opens in the paged Step Inspector (summary, pages of the
server's order, Arrow token pages), the list is virtualised while it scrolls, and sorting and
filtering are answered by the server over the whole step."""
from __future__ import annotations

import importlib.util
import json
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from support.live_server import LiveServer
from unipo.runs import RunWriter
from unipo.server import create_app

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

RESPONSES = 2000


def _fake_record(**options):
    spec = importlib.util.spec_from_file_location("fake_steps", Path(__file__).parents[1] / "runs" / "fake_steps.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.fake_record(**options)


@pytest.fixture(scope="module")
def large_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("large-step")
    record = _fake_record(n=RESPONSES, t=10, seed=11, group_size=8)
    record.terms["grad_coef"] = -np.asarray(record.terms["weight"]) * np.asarray(record.terms["advantage"])
    header = {"name": "big", "task": {"name": "synthetic"}, "model": {"name": "none"}, "seed": 0, "config": {}}
    from unipo.runs import aggregates
    with pytest.MonkeyPatch.context() as patch, RunWriter.create(root / "big", header) as writer:
        # A small step stores its colour-column sketches as a large one would.
        patch.setattr(aggregates, "MIN_SKETCH_TOKENS", 0)
        writer.write_update(1, record, {"policy_loss": 0.0})
        # Step 2 streamed in two parts: its colour range is merged from thinned write-time samples.
        spec = importlib.util.spec_from_file_location("fake_steps", Path(__file__).parents[1] / "runs" / "fake_steps.py")
        fakes = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(fakes)
        with writer.step_stream(2) as sink:
            for start in (0, RESPONSES // 2):
                sink.append(fakes.part_of(record, start, start + RESPONSES // 2))
    with LiveServer(create_app([root])) as server:
        yield server


def api(server, path: str):
    with urllib.request.urlopen(server.url + path) as answer:
        return json.loads(answer.read())


def rendered_rows(page) -> list[int]:
    return [int(v) for v in page.eval_on_selector_all("[data-testid=paged-row]", "els => els.map(e => e.dataset.response)")]


def test_a_large_step_is_paged_virtualised_and_sorted_by_the_server(page, large_run, artifacts_dir):
    sizes: dict[str, int] = {}

    def record(response):
        if "/api/" in response.url:
            try:
                sizes[response.url] = len(response.body())
            except Exception:  # noqa: BLE001 - an event stream or an aborted request has no body
                pass
    page.on("response", record)
    page.goto(large_run.url + "/?run=big&step=1")
    inspector = page.locator("[data-testid=step-inspector][data-paged=true]")
    inspector.wait_for(timeout=20000)
    page.get_by_test_id("paged-counts").filter(has_text=f"{RESPONSES:,} responses").wait_for()
    page.locator("[data-testid=paged-row]").first.wait_for()
    page.locator("[data-testid=paged-scroller] .tok").first.wait_for(timeout=10000)

    # The server's checks over the whole step arrive after the first tokens (their own route).
    badge = page.get_by_test_id("step-checks")
    badge.wait_for(timeout=15000)
    assert badge.get_attribute("data-objective") == "ok"
    assert f"for all {api(large_run, '/api/runs/big/steps/1/summary')['token_count']:,}" in badge.inner_text()

    first = rendered_rows(page)
    assert first[:3] == [0, 1, 2]
    assert 3 <= len(first) < 60, "the list must be virtualised, not 2,000 cards"
    # Tokens are painted with the server's values: the first token of response 0 is the stored one.
    stored = api(large_run, "/api/runs/big/steps/1/responses?limit=1")
    assert stored["total"] == RESPONSES

    # Scroll to the end (again as measured cards change the list's height, as a user keeps
    # scrolling): the last responses appear, and the page still holds only a window of cards.
    last = page.locator("[data-testid=paged-row][data-response='1999']")
    for _ in range(20):
        page.get_by_test_id("paged-scroller").evaluate("el => el.scrollTo(0, el.scrollHeight)")
        page.wait_for_timeout(250)
        if last.count():
            break
    assert len(rendered_rows(page)) < 60
    page.locator("[data-testid=paged-row][data-response='1999']").wait_for()

    # Sort by reward, largest first: the order is the server's over the whole step.
    page.get_by_test_id("paged-sort").select_option("reward")
    page.get_by_test_id("paged-desc").check()
    expected = api(large_run, "/api/runs/big/steps/1/responses?sort=reward&desc=true&limit=5")["rows"]["response"]
    page.wait_for_function(
        f"() => {{ const e = document.querySelector('[data-testid=paged-row]'); return e && e.dataset.response === '{expected[0]}'; }}",
        timeout=10000)
    assert rendered_rows(page)[:5] == expected

    # Only responses with clipped tokens: the count is the server's.
    page.get_by_test_id("paged-only-clipped").check()
    clipped = api(large_run, "/api/runs/big/steps/1/responses?min_clip_count=1&limit=1")["total"]
    assert 0 < clipped < RESPONSES
    page.get_by_test_id("paged-total").filter(has_text=f"{clipped:,} responses match").wait_for(timeout=10000)
    page.screenshot(path=str(artifacts_dir / "large-step.png"), full_page=False)

    # Never the whole step: the whole-step route refused (413) and no answer was large.
    whole = [url for url in sizes if url.endswith("/api/runs/big/steps/1")]
    assert whole, "the app asks the whole-step route first"
    assert max(sizes.values()) < 500_000, sorted(sizes.items(), key=lambda kv: -kv[1])[:3]
    assert any("/tokens?" in url for url in sizes)
    assert not page.errors, page.errors


def test_the_colour_range_says_when_it_is_approximate(page, large_run):
    # Step 1 was written whole: exact stats, no note. Step 2 was streamed: the legend range comes
    # from merged samples and the page says so (the server marks the stats approximate).
    assert "approximate" not in api(large_run, "/api/runs/big/steps/1/summary?stats=grad_coef")["stats"]["grad_coef"]
    assert api(large_run, "/api/runs/big/steps/2/summary?stats=grad_coef")["stats"]["grad_coef"]["approximate"] is True
    page.goto(large_run.url + "/?run=big&step=1")
    page.locator("[data-testid=paged-scroller] .tok").first.wait_for(timeout=20000)
    assert page.get_by_test_id("range-approximate").count() == 0
    page.goto(large_run.url + "/?run=big&step=2")
    page.locator("[data-testid=paged-scroller] .tok").first.wait_for(timeout=20000)
    page.get_by_test_id("range-approximate").wait_for(timeout=10000)
