"""End to end: the Training Explorer and Step Inspector in Chromium against the real server.

Every value checked on screen is compared with what unipo.runs.RunReader reads from the run
directory (the browser must show logged values, never its own).
"""
from __future__ import annotations

import http.client
import math
import re

import pytest
from playwright.sync_api import expect

from unipo.runs import RunReader

HOSTILE = "<img src=x onerror=alert(1)>"  # same string the conftest writes into the hostile run

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

RADIAL_SIZE = 560  # viewBox of the radial chart (TrainingExplorer.svelte)
GAP = math.pi / 14  # radial-geometry.ts DEFAULT_GAP


def click_radial_step(page, steps: list[int], step: int, nudge: float = 0.0) -> None:
    """Click the radial chart on the ring area at the angle of `step` (no lens: few steps),
    `nudge` radians further clockwise. With a step open the chart turns it towards the explainer:
    wait for the turn to end and aim with it (its data-rotation, radians)."""
    page.wait_for_function("() => document.querySelector('[data-testid=radial-chart]')?.dataset.turned !== 'turning'")
    rotation = float(page.get_by_test_id("radial-chart").get_attribute("data-rotation") or 0)
    box = page.get_by_test_id("radial-chart").bounding_box()
    t = (step - steps[0]) / (steps[-1] - steps[0]) if steps[-1] > steps[0] else 0.5
    angle = GAP / 2 + t * (2 * math.pi - GAP) + nudge + rotation
    radius = 190 * min(box["width"], box["height"]) / RADIAL_SIZE
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.click(cx + math.sin(angle) * radius, cy - math.cos(angle) * radius)


def tooltip_rows(page) -> dict[str, str]:
    tooltip = page.get_by_test_id("tooltip")
    rows = tooltip.locator("tr")
    return {rows.nth(i).locator("th").inner_text(): rows.nth(i).locator("td").inner_text() for i in range(rows.count())}


def test_select_run_step_and_token_shows_stored_values(page, live_server, e2e_runs, artifacts_dir):
    run_dir = e2e_runs["primary"]
    run_id = run_dir.name
    reader = RunReader(run_dir)
    steps = reader.steps()
    step = steps[1]

    page.goto(live_server.url + "/")
    page.locator(f"li[data-run='{run_id}']").click()
    expect_selected = page.locator(f"li[data-run='{run_id}'][aria-selected='true']")
    expect_selected.wait_for()
    page.get_by_test_id("radial-chart").locator("path.ring-line").first.wait_for()
    click_radial_step(page, steps, step)
    page.get_by_test_id("step-inspector").get_by_role("heading", name=f"Step {step}").wait_for()
    assert f"step={step}" in page.url

    table = reader.step(step).to_pylist()
    # A token in the middle of the second response, to exercise offsets.
    rows_of_response = [row for row in table if row["response"] == 1 and row["position"] >= 0]
    target = rows_of_response[len(rows_of_response) // 2]
    token = page.locator(f"[data-response='1'] .tok[data-pos='{target['position']}']")
    token.hover()
    page.get_by_test_id("tooltip").locator("tr").first.wait_for()
    shown = tooltip_rows(page)
    checked = 0
    for name in ("token_objective", "advantage", "ratio", "weight", "logprob", "old_logprob", "entropy", "kl", "surrogate"):
        stored = target.get(name)
        if stored is None:
            continue
        assert name in shown, f"tooltip lacks {name}: {shown}"
        assert float(shown[name]) == pytest.approx(stored, rel=1e-3, abs=1e-6), name
        checked += 1
    assert checked >= 5
    title = page.get_by_test_id("tooltip").locator(".title").inner_text()
    assert title == '"' + target["token"].replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    page.screenshot(path=str(artifacts_dir / "inspector-tooltip.png"), full_page=True)

    token.click()
    page.wait_for_function(f"() => location.search.includes('token=1%3A{target['position']}') || location.search.includes('token=1:{target['position']}')")
    assert "selected" in (token.get_attribute("class") or "")
    # Reloading the URL restores step and token.
    page.reload()
    page.locator(f"[data-response='1'] .tok.selected[data-pos='{target['position']}']").wait_for()
    page.screenshot(path=str(artifacts_dir / "explorer-inspector.png"), full_page=True)
    assert not page.errors, page.errors


def test_clicks_at_the_ends_of_the_arc_select_first_and_last_step(page, live_server, e2e_runs):
    run_id = e2e_runs["primary"].name
    steps = RunReader(e2e_runs["primary"]).steps()
    page.goto(live_server.url + f"/?run={run_id}")
    page.get_by_test_id("radial-chart").locator("path.ring-line").first.wait_for()
    # A few pixels before the first step's dot (in the gap at 12 o'clock) still means the first step.
    click_radial_step(page, steps, steps[0], nudge=-0.03)
    page.get_by_test_id("step-inspector").get_by_role("heading", name=f"Step {steps[0]}").wait_for()
    # The same just past the last step (the chart is smaller once a step is open).
    click_radial_step(page, steps, steps[-1], nudge=+0.03)
    page.get_by_test_id("step-inspector").get_by_role("heading", name=f"Step {steps[-1]}").wait_for()
    assert f"step={steps[-1]}" in page.url
    assert not page.errors, page.errors


def test_linear_view_overlays_two_runs(page, live_server, e2e_runs, artifacts_dir):
    first, second = e2e_runs["primary"].name, e2e_runs["second"].name
    page.goto(live_server.url + f"/?run={first}")
    page.locator(f"li[data-run='{second}'] input[type=checkbox]").click()
    page.locator(f"li[data-run='{second}'][aria-selected='true']").wait_for()
    page.get_by_test_id("linear-mode").click()
    chart = page.get_by_test_id("linear-chart")
    chart.locator("g.panel").first.wait_for()
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=linear-chart] g.panel')[0]?.querySelectorAll('path.series').length === 2")
    panels = chart.locator("g.panel")
    assert panels.count() >= 1
    for i in range(panels.count()):
        runs_drawn = {panels.nth(i).locator("path.series").nth(j).get_attribute("data-run")
                      for j in range(panels.nth(i).locator("path.series").count())}
        assert runs_drawn == {first, second}
    # Hovering shows both runs' logged values at that step.
    box = chart.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + 60)
    page.get_by_test_id("tooltip").locator("tr").first.wait_for()
    labels = " ".join(tooltip_rows(page))
    assert first in labels and second in labels
    assert "view=linear" in page.url
    page.screenshot(path=str(artifacts_dir / "linear-overlay.png"), full_page=True)
    assert not page.errors, page.errors


def test_hostile_text_renders_as_text(page, live_server, e2e_runs, artifacts_dir):
    run_id = e2e_runs["hostile"].name
    page.goto(live_server.url + f"/?run={run_id}&step=1")
    inspector = page.get_by_test_id("step-inspector")
    inspector.wait_for()
    prompts = inspector.get_by_test_id("prompt-text")
    prompts.first.wait_for()
    assert any(HOSTILE in prompts.nth(i).inner_text() for i in range(prompts.count()))
    hostile_token = page.locator("[data-response='0'] .tok[data-pos='0']")
    assert hostile_token.inner_text() == HOSTILE
    hostile_token.hover()  # the tooltip shows the token string too
    page.get_by_test_id("tooltip").locator(".title").wait_for()
    assert HOSTILE in page.get_by_test_id("tooltip").locator(".title").inner_text()
    hostile_token.click()
    page.wait_for_timeout(500)
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    assert page.dialogs == []
    assert not page.errors, page.errors
    page.screenshot(path=str(artifacts_dir / "hostile-text.png"), full_page=True)


@pytest.mark.parametrize("raw_path", [
    "/../../../../etc/passwd",
    "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/assets/..%2f..%2f..%2fpyproject.toml",
    "/api/runs/..%2f..%2fetc/steps/1",
    "/api/runs/%2e%2e/metrics",
])
def test_path_traversal_is_refused(live_server, raw_path):
    connection = http.client.HTTPConnection("127.0.0.1", live_server.port, timeout=10)
    connection.putrequest("GET", raw_path, skip_accept_encoding=True)
    connection.endheaders()
    response = connection.getresponse()
    body = response.read().decode("utf-8", "replace")
    connection.close()
    assert 400 <= response.status < 500, (raw_path, response.status)
    assert "root:" not in body and "[project]" not in body
    assert not re.search(r"<script", body)


# ---------------------------------------------------------------------------------------------
# More than four runs at once (the demo compares six algorithms trained on identical data)
# ---------------------------------------------------------------------------------------------

SIX_ALGORITHMS = ["grpo", "dapo", "dr_grpo", "gspo", "rloo", "reinforce_pp"]


@pytest.fixture(scope="module")
def six_runs(tmp_path_factory, run_writer):
    """Six runs of six algorithms on the same seed, each with a held-out evaluation in its header."""
    root = tmp_path_factory.mktemp("six-runs")
    for i, algo in enumerate(SIX_ALGORITHMS):
        run_writer(
            root / algo, algo_name=algo, steps=3,
            # RLOO and REINFORCE++ put a KL penalty in the reward by default; this forward pass
            # gives the advantage estimator no log-probs.
            hparams={"kl_coef": 0.0} if algo in ("rloo", "reinforce_pp") else None,
            header_extra={"evaluation": {"split": "eval", "prompts": 1000, "before": 0.523, "after": 0.6 + i / 100}})
    return root


@pytest.fixture(scope="module")
def six_server(six_runs):
    from support.live_server import LiveServer
    from unipo.server import create_app

    with LiveServer(create_app([six_runs])) as server:
        yield server


def test_linear_view_draws_every_selected_run_beyond_four(page, six_server, artifacts_dir):
    detail_requests: list[str] = []
    page.on("request", lambda r: detail_requests.append(r.url) if re.search(r"/api/runs/[^/?]+$", r.url) else None)
    order = ["grpo", "dapo", "dr_grpo", "gspo", "rloo", "reinforce_pp"]  # URL order, not the server's
    page.goto(six_server.url + f"/?run={','.join(order)}&view=linear")
    chart = page.get_by_test_id("linear-chart")
    page.wait_for_function(
        "() => { const p = document.querySelectorAll('[data-testid=linear-chart] g.panel');"
        " return p.length > 0 && [...p].every((g) => g.querySelectorAll('path.series').length === 6); }", timeout=20000)
    assert page.get_by_test_id("linear-mode").inner_text().strip() == "Linear · 6 runs"
    panels = chart.locator("g.panel")
    for i in range(panels.count()):
        drawn = panels.nth(i).locator("path.series")
        assert sorted(drawn.nth(j).get_attribute("data-run") for j in range(drawn.count())) == sorted(order)

    # One colour per run, the same in the chart, its legend and the run rail.
    colours = {}
    for run in order:
        stroke = chart.locator(f"g.panel path.series[data-run='{run}']").first.get_attribute("stroke")
        dash = chart.locator(f"g.panel path.series[data-run='{run}']").first.get_attribute("stroke-dasharray")
        legend = page.locator(f".legend .run-key[data-run='{run}'] svg.run-key")
        rail = page.locator(f"li[data-run='{run}'] svg.run-key")
        assert legend.get_attribute("data-colour") == stroke == rail.get_attribute("data-colour"), run
        assert legend.get_attribute("data-dash") == (dash or "") == rail.get_attribute("data-dash"), run
        colours[run] = stroke
    assert len(set(colours.values())) == 6, colours

    # The run rail leads with the stored held-out accuracy, before → after.
    evaluation = page.locator("li[data-run='grpo'] [data-testid=run-evaluation]").inner_text()
    assert "52.3% → 60.0%" in evaluation and "1,000 held-out prompts" in evaluation

    # Every run's details were asked for once: no request storm from concurrent loads.
    page.wait_for_timeout(800)
    for run in order:
        assert sum(url.endswith(f"/api/runs/{run}") for url in detail_requests) == 1, (run, detail_requests)
    page.screenshot(path=str(artifacts_dir / "linear-six-runs.png"), full_page=True)
    assert not page.errors, page.errors


def test_token_level_advantage_is_labelled_as_the_first_tokens(page, six_server, six_runs):
    rows = RunReader(six_runs / "reinforce_pp").step(1).to_pylist()
    first = next(r for r in rows if r["response"] == 0 and r["position"] == 0)
    page.goto(six_server.url + "/?run=reinforce_pp&step=1")
    label = page.locator("[data-response='0'] [data-testid=response-advantage]")
    label.wait_for(timeout=20000)
    # The label reads "A₀" until the run's algorithm has arrived, then says why: wait for the note.
    expect(page.get_by_test_id("advantage-note")).to_contain_text("reinforce_pp estimator gives", timeout=20000)
    text = label.inner_text().strip()
    assert text.startswith("A₀ "), text
    assert float(text.split()[1]) == pytest.approx(first["advantage"], rel=1e-3, abs=1e-6)
    assert "first token" in label.get_attribute("title")
    assert "reinforce_pp estimator gives every token its own advantage" in page.get_by_test_id("advantage-note").inner_text()

    # A response-level estimator's number is the response's advantage: plain "A", no note.
    page.goto(six_server.url + "/?run=grpo&step=1")
    label = page.locator("[data-response='0'] [data-testid=response-advantage]")
    # "A₀" (algorithm not known yet) turns into "A" once the run's algorithm has arrived.
    expect(label).to_have_text(re.compile(r"^A "), timeout=20000)
    assert page.get_by_test_id("advantage-note").count() == 0
    assert not page.errors, page.errors


def _luminance(css: str) -> float:
    channels = [float(x) for x in re.findall(r"[\d.]+", css)[:3]]
    linear = [c / 255 / 12.92 if c / 255 <= 0.04045 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_token_text_keeps_wcag_contrast_on_every_colour_source(page, six_server):
    """Every token's text against its own background, as the browser paints it, for every colour
    source the step offers: ≥ 4.5:1 (WCAG AA)."""
    page.goto(six_server.url + "/?run=ppo&step=2")
    select = page.get_by_test_id("colour-source")
    select.wait_for(timeout=20000)
    page.locator(".tok[data-pos]").first.wait_for(timeout=20000)
    sources = [value for value in select.locator("option").evaluate_all(
        "options => options.filter(o => !o.disabled).map(o => o.value)")]
    assert len(sources) >= 6, sources
    worst = {}
    for source in sources:
        select.select_option(source)
        page.wait_for_timeout(150)
        pairs = page.locator(".tok[data-pos]").evaluate_all(
            "spans => spans.slice(0, 600).map(s => { const c = getComputedStyle(s);"
            " return [c.backgroundColor, c.color]; })")
        worst[source] = min(_contrast(background, text) for background, text in pairs)
    assert min(worst.values()) >= 4.5, worst
