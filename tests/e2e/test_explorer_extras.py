"""End to end (Chromium, real server): the reference UNIPO's explorer and explainer interactions of
issue 13 that the first-minutes tests do not cover.

- spike markers drawn on the charts themselves (radial and linear), from the server's spikes
  analysis, at their step's place; clicking one opens that step;
- the radial chart turning the selected step to a fixed angle (3 o'clock, towards the explainer)
  when the explainer opens, and not turning under a moving pointer;
- explainer cards opening progressively from the formula's sections ("Step by step").
"""
from __future__ import annotations

import json
import math

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

RADIAL_SIZE = 560  # viewBox of the radial chart (TrainingExplorer.svelte)
GAP = math.pi / 14  # radial-geometry.ts DEFAULT_GAP
ANCHOR = math.pi / 2  # TrainingExplorer.svelte ANCHOR_ANGLE: 3 o'clock
STEPS = 24
SPIKE_STEP = 17


@pytest.fixture(scope="module")
def extras_server(tmp_path_factory, run_writer):
    """A grpo run of 24 stored updates whose logged grad norm jumps 100x at step 17 (a spike for
    the rolling z-score), served by the real app."""
    from support.live_server import LiveServer
    from unipo.server import create_app

    root = tmp_path_factory.mktemp("extras-runs")
    run = run_writer(root / "spiky", algo_name="grpo", steps=STEPS, seed=5)
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    for line in lines:
        step = int(line["step"])
        line["grad_norm"] = 50.0 if step == SPIKE_STEP else 0.5 + 0.01 * ((step * 7) % 5)
    (run / "metrics.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    with LiveServer(create_app([root])) as server:
        yield server


def server_spikes(server) -> list[int]:
    import urllib.request

    with urllib.request.urlopen(server.url + "/api/runs/spiky/analyses/spikes") as answer:
        body = json.loads(answer.read())
    return sorted(int(s["step"]) for s in body["result"]["spikes"])


def chart_angle(page, x: float, y: float) -> float:
    """Clockwise angle from 12 o'clock of a page point around the radial chart's centre."""
    box = page.get_by_test_id("radial-chart").bounding_box()
    a = math.atan2(x - (box["x"] + box["width"] / 2), -(y - (box["y"] + box["height"] / 2)))
    return a % (2 * math.pi)


def settled_rotation(page) -> float:
    page.wait_for_function("() => document.querySelector('[data-testid=radial-chart]')?.dataset.turned !== 'turning'")
    return float(page.get_by_test_id("radial-chart").get_attribute("data-rotation") or 0)


def angle_gap(a: float, b: float) -> float:
    d = (a - b) % (2 * math.pi)
    return min(d, 2 * math.pi - d)


def test_spike_markers_sit_on_both_charts_and_open_their_step(page, extras_server):
    spikes = server_spikes(extras_server)
    assert SPIKE_STEP in spikes  # the run was built with one
    page.goto(extras_server.url + "/?run=spiky")
    chart = page.get_by_test_id("radial-chart")
    chart.locator("path.ring-line").first.wait_for(timeout=20000)
    markers = chart.locator("path.spike-marker")
    markers.first.wait_for(timeout=10000)
    # Exactly the server's spikes, each on the chart at its step's angle (no lens, no turn yet).
    assert sorted(int(markers.nth(i).get_attribute("data-step")) for i in range(markers.count())) == spikes
    marker = chart.locator(f"path.spike-marker[data-step='{SPIKE_STEP}']")
    box = marker.bounding_box()
    t = (SPIKE_STEP - 1) / (STEPS - 1)
    expected = GAP / 2 + t * (2 * math.pi - GAP)
    assert angle_gap(chart_angle(page, box["x"] + box["width"] / 2, box["y"] + box["height"] / 2), expected) < 0.04
    assert f"step {SPIKE_STEP}" in marker.locator("title").text_content()

    marker.click()
    page.get_by_test_id("step-inspector").get_by_role("heading", name=f"Step {SPIKE_STEP}").wait_for(timeout=20000)
    assert page.evaluate("new URLSearchParams(location.search).get('step')") == str(SPIKE_STEP)
    assert "current" in (chart.locator(f"path.spike-marker[data-step='{SPIKE_STEP}']").get_attribute("class") or "")

    # The linear chart marks the same steps above its plot, at the step's x; a click opens it.
    page.keyboard.press("Escape")
    page.wait_for_function("() => !new URLSearchParams(location.search).has('step')", timeout=10000)
    page.get_by_test_id("linear-mode").click()
    linear = page.get_by_test_id("linear-chart")
    lmarkers = linear.locator("path.spike-marker")
    lmarkers.first.wait_for(timeout=10000)
    assert sorted(int(lmarkers.nth(i).get_attribute("data-step")) for i in range(lmarkers.count())) == spikes
    # Each panel carries a rule at the spike.
    assert linear.locator("line.spike-rule").count() == len(spikes) * linear.locator("g.panel").count()
    lbox = linear.locator(f"path.spike-marker[data-step='{SPIKE_STEP}']").bounding_box()
    # Hovering the marker's x over the plot names the same step in the tooltip's title.
    page.mouse.move(lbox["x"] + lbox["width"] / 2, lbox["y"] + lbox["height"] + 40)
    page.get_by_test_id("tooltip").wait_for()
    assert str(SPIKE_STEP) in page.get_by_test_id("tooltip").locator(".title").inner_text()
    linear.locator(f"path.spike-marker[data-step='{SPIKE_STEP}']").click()
    page.get_by_test_id("step-inspector").get_by_role("heading", name=f"Step {SPIKE_STEP}").wait_for(timeout=20000)
    assert not page.errors, page.errors


def selected_rule_angle(page) -> float:
    rule = page.get_by_test_id("radial-chart").locator("line.selected-rule")
    x2, y2 = float(rule.get_attribute("x2")), float(rule.get_attribute("y2"))
    return math.atan2(x2, -y2) % (2 * math.pi)


def test_the_selected_step_turns_to_a_fixed_angle_when_the_explainer_opens(page, extras_server):
    page.goto(extras_server.url + "/?run=spiky")
    chart = page.get_by_test_id("radial-chart")
    chart.locator("path.ring-line").first.wait_for(timeout=20000)
    assert settled_rotation(page) == 0
    for step in (4, 20):
        page.goto(extras_server.url + f"/?run=spiky&step={step}")
        page.get_by_test_id("explainer").wait_for(timeout=20000)
        page.wait_for_function("() => document.querySelector('[data-testid=radial-chart]')?.dataset.turned === 'yes'", timeout=10000)
        # Steps at different places on the arc both end at 3 o'clock, towards the explainer.
        assert angle_gap(selected_rule_angle(page), ANCHOR) < 0.01, step
        rotation = settled_rotation(page)
        assert abs(rotation) > 0.1, step
        # The pointer sweeping the rings moves the lens, never the turn (nothing turns under it).
        box = chart.bounding_box()
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        radius = 170 * min(box["width"], box["height"]) / RADIAL_SIZE
        for k in range(12):
            a = 2 * math.pi * k / 12
            page.mouse.move(cx + math.sin(a) * radius, cy - math.cos(a) * radius)
        assert float(chart.get_attribute("data-rotation")) == pytest.approx(rotation, abs=1e-6)
        page.mouse.move(5, 5)

    # A click on the turned chart opens the step under the pointer, as the centre shows it.
    rotation = settled_rotation(page)
    t = (9 - 1) / (STEPS - 1)
    a = GAP / 2 + t * (2 * math.pi - GAP) + rotation
    box = chart.bounding_box()
    radius = 190 * min(box["width"], box["height"]) / RADIAL_SIZE
    page.mouse.move(box["x"] + box["width"] / 2 + math.sin(a) * radius, box["y"] + box["height"] / 2 - math.cos(a) * radius)
    shown = chart.locator("text.centre-step").text_content().strip()
    page.mouse.down()
    page.mouse.up()
    page.get_by_test_id("step-inspector").get_by_role("heading", name=f"Step {shown}").wait_for(timeout=20000)
    assert abs(int(shown) - 9) <= 1
    # Closing the step turns the chart back.
    page.keyboard.press("Escape")
    page.wait_for_function("() => document.querySelector('[data-testid=radial-chart]')?.dataset.turned === 'no'", timeout=10000)
    assert settled_rotation(page) == 0
    assert not page.errors, page.errors


def test_cards_open_progressively_from_the_formula_sections(page, extras_server):
    page.goto(extras_server.url + "/?run=spiky&step=3")
    canvas = page.get_by_test_id("explainer-canvas")
    canvas.locator(".formula-card .katex").first.wait_for(timeout=20000)
    total = canvas.locator(".card-slot").count()
    assert total >= 6
    page.get_by_test_id("explainer-step-by-step").click()
    # Step by step starts from the loss (and the cards no section leads to).
    page.wait_for_function("() => document.querySelectorAll('[data-testid=explainer-canvas] .card-slot').length < %d" % total)
    assert canvas.locator("[data-card=aggregation]").count() == 1
    assert canvas.locator("[data-card=token_objective]").count() == 0
    assert canvas.locator("[data-card=clip]").count() == 0
    first_count = canvas.locator(".card-slot").count()
    assert f"{first_count} of {total} cards open" in page.get_by_test_id("explainer-progress").inner_text()

    # Clicking the per-token objective in the loss opens its card, in view and focused.
    canvas.locator("[data-card=aggregation] .formula .t-token_objective").first.click()
    card = canvas.locator("[data-card=token_objective]")
    card.wait_for(timeout=5000)
    page.wait_for_function("document.querySelector('[data-card=token_objective]')?.classList.contains('focused')")
    page.wait_for_timeout(600)  # the reveal's transition
    view, box = canvas.bounding_box(), card.bounding_box()
    assert box["x"] < view["x"] + view["width"] and box["x"] + box["width"] > view["x"]
    assert box["y"] < view["y"] + view["height"] and box["y"] + box["height"] > view["y"]
    assert canvas.locator("[data-card=clip]").count() == 0

    # Then its surrogate opens the clip card: one more card each time.
    card.locator(".formula .t-surrogate").first.click()
    canvas.locator("[data-card=clip]").wait_for(timeout=5000)
    assert canvas.locator(".card-slot").count() == first_count + 2
    assert f"{first_count + 2} of {total} cards open" in page.get_by_test_id("explainer-progress").inner_text()

    # "open all" brings every card back; the choice is remembered on reload.
    page.get_by_test_id("explainer-progress").get_by_role("button", name="open all").click()
    page.wait_for_function("() => document.querySelectorAll('[data-testid=explainer-canvas] .card-slot').length === %d" % total)
    page.get_by_test_id("explainer-step-by-step").click()
    page.reload()
    canvas.locator(".formula-card .katex").first.wait_for(timeout=20000)
    assert canvas.locator(".card-slot").count() == first_count
    assert page.get_by_test_id("explainer-step-by-step").get_attribute("aria-pressed") == "true"
    assert not page.errors, page.errors
