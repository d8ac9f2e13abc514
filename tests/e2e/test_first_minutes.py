"""End to end: what a newcomer meets in the first minutes, in Chromium against the real server.

Each test is one defect found by trying the app cold (issue 13), written so that it fails on the
old behaviour: the radial chart opening another step than the one its centre shows, the what-if
panel opening below the fold, the explainer canvas swallowing the page's wheel, "Fit" showing
one card of six, symbol tokens as bare quoted subscripts, missing glyphs, a k3 KL legend with
negative ticks, "grpo grpo" headers, unnamed comboboxes, 4 prompts per page and a linear overlay
where one run's loss flattens the others.
"""
from __future__ import annotations

import json
import math
import re
import shutil
import subprocess

import pytest
from playwright.sync_api import expect

from unipo.runs import RunReader

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

RADIAL_SIZE = 560
GAP = math.pi / 14


@pytest.fixture(scope="module")
def newcomer_runs(tmp_path_factory, run_writer):
    """Runs named after their algorithm (as `unipo demo` names them): a 40-update grpo run (the
    radial lens matters), a dr_grpo run (another loss aggregation), a reinforce_pp run whose loss
    is logged 1000x larger (REINFORCE-like scale), and one demo-sized step (16 prompts x 8)."""
    root = tmp_path_factory.mktemp("newcomer-runs")
    run_writer(root / "grpo", algo_name="grpo", steps=40)
    imported = run_writer(root / "dr_grpo", algo_name="dr_grpo", steps=40, seed=1,
                          header_extra={"metric_definitions": {"imported_score": "Score the imported log defines."}})
    lines = [json.loads(line) for line in (imported / "metrics.jsonl").read_text().splitlines() if line.strip()]
    for i, line in enumerate(lines):
        line["imported_score"] = i / 10  # a metric name UNIPO does not know, defined by the run
    (imported / "metrics.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    big = run_writer(root / "reinforce_pp", algo_name="reinforce_pp", steps=40, seed=2, hparams={"kl_coef": 0.0})
    lines = [json.loads(line) for line in (big / "metrics.jsonl").read_text().splitlines() if line.strip()]
    for line in lines:
        for key in ("loss", "policy_loss"):
            if isinstance(line.get(key), (int, float)):
                line[key] = line[key] * 1000 + 3  # a summed loss: three orders of magnitude larger
    (big / "metrics.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    run_writer(root / "demo-sized", algo_name="grpo", steps=1, prompts=16, group_size=8, max_len=10, seed=3)
    # The demo's length (120 updates): where the lens magnifies most (metrics only past step 3).
    run_writer(root / "long", algo_name="grpo", steps=3, metrics_only_steps=117, seed=4)
    return root


@pytest.fixture(scope="module")
def newcomer_server(newcomer_runs):
    from support.live_server import LiveServer
    from unipo.server import create_app

    with LiveServer(create_app([newcomer_runs])) as server:
        yield server


def sized_page(browser, width: int, height: int):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    return context, page


def radial_point(page, t: float, radius_share: float = 190 / RADIAL_SIZE):
    # The chart turns the open step towards the explainer (and back): aim once it has settled.
    page.wait_for_function("() => document.querySelector('[data-testid=radial-chart]')?.dataset.turned !== 'turning'")
    rotation = float(page.get_by_test_id("radial-chart").get_attribute("data-rotation") or 0)
    box = page.get_by_test_id("radial-chart").bounding_box()
    angle = GAP / 2 + t * (2 * math.pi - GAP) + rotation
    radius = radius_share * min(box["width"], box["height"])
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    return cx + math.sin(angle) * radius, cy - math.cos(angle) * radius


def test_radial_click_opens_the_step_the_centre_shows(page, newcomer_server):
    """On a 120-update run the lens refocused under the pointer on every event, so the step
    opened was not the one shown (28 shown, 31 opened). The URL must name the step the centre shows."""
    page.goto(newcomer_server.url + "/?run=long")
    page.get_by_test_id("radial-chart").locator("path.ring-line").first.wait_for(timeout=20000)
    opened = []
    for t in (0.23, 0.4, 0.62, 0.81):
        # Approach the point in small moves, as a hand does (each move redrew the lens before).
        target = radial_point(page, t)
        start = radial_point(page, t - 0.05)
        for k in range(1, 11):
            page.mouse.move(start[0] + (target[0] - start[0]) * k / 10, start[1] + (target[1] - start[1]) * k / 10)
        page.wait_for_timeout(80)
        shown = page.get_by_test_id("radial-chart").locator("text.centre-step").text_content().strip()
        assert shown.isdigit(), shown
        page.mouse.down()
        page.mouse.up()
        page.wait_for_function("() => new URLSearchParams(location.search).has('step')", timeout=10000)
        assert page.evaluate("new URLSearchParams(location.search).get('step')") == shown
        opened.append(int(shown))
        page.keyboard.press("Escape")  # back to the big chart
        page.wait_for_function("() => !new URLSearchParams(location.search).has('step')", timeout=10000)
    assert len(set(opened)) == 4, opened
    # A real step opens in the inspector the same way.
    page.goto(newcomer_server.url + "/?run=grpo")
    page.get_by_test_id("radial-chart").locator("path.ring-line").first.wait_for(timeout=20000)
    page.mouse.move(*radial_point(page, 0.5))
    shown = page.get_by_test_id("radial-chart").locator("text.centre-step").text_content().strip()
    page.mouse.down()
    page.mouse.up()
    page.get_by_test_id("step-inspector").get_by_role("heading", name=f"Step {shown}").wait_for(timeout=20000)


def test_whatif_panel_is_in_view_after_opening(browser, newcomer_server):
    context, page = sized_page(browser, 1280, 720)
    try:
        page.goto(newcomer_server.url + "/?run=demo-sized&step=1")
        page.get_by_test_id("whatif-toggle").click(timeout=20000)
        panel = page.get_by_test_id("whatif")
        panel.wait_for()
        page.wait_for_timeout(900)  # the smooth scroll
        box = panel.bounding_box()
        assert box["y"] < 720 and box["y"] + box["height"] > 0, box
        assert box["y"] >= -5, box  # its header is visible, not scrolled past
        assert not page.errors, page.errors
    finally:
        context.close()


def test_explainer_canvas_leaves_the_page_wheel_alone_until_focused(browser, newcomer_server):
    context, page = sized_page(browser, 1280, 720)
    try:
        page.goto(newcomer_server.url + "/?run=grpo&step=3")
        canvas = page.get_by_test_id("explainer-canvas")
        canvas.locator(".formula-card").first.wait_for(timeout=20000)
        # The canvas' top 100 px below the viewport's top: the page can scroll up by the wheel.
        page.evaluate("() => { const r = document.querySelector('[data-testid=explainer-canvas]').getBoundingClientRect();"
                      " window.scrollTo(0, window.scrollY + r.top - 100); }")
        before = page.evaluate("window.scrollY")
        assert before > 50
        box = canvas.bounding_box()
        page.mouse.move(box["x"] + 6, box["y"] + 40)
        page.mouse.wheel(0, -120)
        page.wait_for_function(f"window.scrollY < {before}", timeout=3000)
        # Once the canvas is clicked into, the wheel pans it and the page stays put.
        content = canvas.locator(".content")
        box = canvas.bounding_box()
        page.mouse.click(box["x"] + 6, box["y"] + 40)
        transform = content.evaluate("el => el.style.transform")
        scrolled = page.evaluate("window.scrollY")
        page.mouse.wheel(0, -100)
        page.wait_for_timeout(300)
        assert page.evaluate("window.scrollY") == scrolled
        assert content.evaluate("el => el.style.transform") != transform
        assert not page.errors, page.errors
    finally:
        context.close()


@pytest.mark.parametrize("width, height", [(1280, 720), (1600, 1000)])
def test_fit_shows_every_card(browser, newcomer_server, width, height):
    context, page = sized_page(browser, width, height)
    try:
        page.goto(newcomer_server.url + "/?run=grpo&step=3")
        canvas = page.get_by_test_id("explainer-canvas")
        cards = canvas.locator(".card-slot")
        cards.first.wait_for(timeout=20000)
        assert cards.count() >= 4
        page.get_by_test_id("explainer-fit").click()
        page.wait_for_timeout(700)  # the 350 ms transition
        view = canvas.bounding_box()
        for i in range(cards.count()):
            card = cards.nth(i).bounding_box()
            assert card["x"] >= view["x"] - 1 and card["y"] >= view["y"] - 1, (i, card, view)
            assert card["x"] + card["width"] <= view["x"] + view["width"] + 1, (i, card, view)
            assert card["y"] + card["height"] <= view["y"] + view["height"] + 1, (i, card, view)
        assert not page.errors, page.errors
    finally:
        context.close()


def test_a_symbol_token_is_a_framed_subscript(page, newcomer_server, newcomer_runs):
    rows = RunReader(newcomer_runs / "grpo").step(3).to_pylist()
    row = next((r for r in rows if r["token"] in ("=", "+") and r["position"] >= 0), None)
    if row is None:
        pytest.skip("no symbol token in this step")
    page.goto(newcomer_server.url + f"/?run=grpo&step=3&token={row['response']}:{row['position']}")
    card = page.get_by_test_id("explainer-canvas").locator(".formula-card").first
    card.locator(".katex").first.wait_for(timeout=20000)
    framed = page.get_by_test_id("explainer-canvas").locator(".msupsub:has(.fbox)").first
    expect(framed).to_have_text(row["token"], timeout=10000)
    assert "“" + row["token"] + "”" not in page.get_by_test_id("explainer-canvas").inner_text()


def _covered_by_a_font(char: str) -> bool:
    done = subprocess.run(["fc-list", f":charset={ord(char):x}", "family"], capture_output=True, text=True)
    return bool(done.stdout.strip())


def test_no_character_on_screen_lacks_a_font(page, newcomer_server):
    """Every character the app writes (KaTeX's own web fonts aside) has an installed font: no
    missing-glyph boxes (the learning mode's pause glyph was one)."""
    if not shutil.which("fc-list"):
        pytest.skip("fontconfig's fc-list is not installed")
    page.goto(newcomer_server.url + "/?run=grpo&step=3&token=0:0")
    page.get_by_test_id("explainer-canvas").locator(".formula-card").first.wait_for(timeout=20000)
    page.get_by_role("button", name="Learning mode").click()
    page.get_by_test_id("learning-play").click()  # the playing state shows the pause control
    page.wait_for_timeout(300)
    text = page.evaluate("""() => {
        const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
        let out = '';
        for (let n = walker.nextNode(); n; n = walker.nextNode()) {
            if (n.parentElement.closest('.katex, script, style')) continue;
            out += n.textContent;
        }
        return out;
    }""")
    chars = sorted({c for c in text if not c.isspace() and ord(c) > 0x7E})
    missing = [f"{c} U+{ord(c):04X}" for c in chars if not _covered_by_a_font(c)]
    assert not missing, missing


def test_kl_legend_has_no_negative_ticks_for_k3(page, newcomer_server, newcomer_runs):
    kl = [r["kl"] for r in RunReader(newcomer_runs / "grpo").step(3).to_pylist() if r.get("kl") is not None]
    assert kl and min(kl) >= 0  # k3 is never negative
    page.goto(newcomer_server.url + "/?run=grpo&step=3&colour=kl")
    legend = page.get_by_test_id("colour-legend")
    legend.locator(".tick").first.wait_for(timeout=20000)
    ticks = legend.locator(".tick").all_inner_texts()
    assert not any(re.search(r"[-−]\s*\d", t) for t in ticks), ticks


def test_side_by_side_names_each_run_once(page, newcomer_server):
    page.goto(newcomer_server.url + "/?run=grpo,dr_grpo&step=1")
    heads = page.get_by_test_id("side-by-side").locator(".run-head")
    heads.first.wait_for(timeout=20000)
    for text in heads.all_inner_texts():
        first_line = text.strip().splitlines()[0]
        assert not re.search(r"\b(\w+)\s+\1\b", first_line), first_line


def test_every_combobox_has_an_accessible_name(page, newcomer_server):
    page.goto(newcomer_server.url + "/?run=grpo,dr_grpo&step=3&whatif=1&view=linear")
    page.get_by_test_id("whatif").wait_for(timeout=20000)
    page.get_by_test_id("linear-chart").locator("g.panel").first.wait_for(timeout=20000)
    boxes = page.get_by_role("combobox")
    assert boxes.count() >= 4
    for i in range(boxes.count()):
        expect(boxes.nth(i)).to_have_accessible_name(re.compile(r"\w"))


def test_a_demo_sized_step_shows_every_prompt_on_one_page(page, newcomer_server):
    page.goto(newcomer_server.url + "/?run=demo-sized&step=1")
    inspector = page.get_by_test_id("step-inspector")
    inspector.locator(".group").first.wait_for(timeout=20000)
    assert inspector.locator(".group").count() == 16
    assert inspector.get_by_role("navigation", name="Pages of prompts").count() == 0


def test_linear_overlay_scales_each_run_and_says_losses_are_not_comparable(page, newcomer_server):
    page.goto(newcomer_server.url + "/?run=grpo,reinforce_pp,dr_grpo&view=linear&metrics=loss,reward_mean")
    chart = page.get_by_test_id("linear-chart")
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=linear-chart] g.panel')].some("
        "g => g.dataset.metric === 'loss' && g.querySelectorAll('path.series').length === 3)", timeout=20000)
    loss = chart.locator("g.panel[data-metric='loss']")
    # reinforce_pp's loss is ~1000x the others': the panel puts each run on its own scale.
    assert loss.get_attribute("data-scale") == "normalised"
    assert "own scale" in loss.locator(".scale-note").text_content()
    heights = []
    for run in ("grpo", "reinforce_pp"):
        box = loss.locator(f"path.series[data-run='{run}']").bounding_box()
        heights.append(box["height"])
    assert min(heights) > 30, heights  # neither run is flattened to a line
    # grpo, dr_grpo and reinforce_pp aggregate their losses differently: the page says so.
    note = page.get_by_test_id("loss-note").inner_text()
    assert "not comparable" in note and "grpo" in note and "dr_grpo" in note
    # The user can force one shared axis.
    page.get_by_test_id("y-mode").select_option("shared")
    expect(loss).to_have_attribute("data-scale", "shared")
    assert not page.errors, page.errors


@pytest.fixture(scope="module")
def two_epoch_run(tmp_path_factory):
    """`unipo train` with 2 epochs over each rollout: update 2 re-scores update 1's responses."""
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    root = tmp_path_factory.mktemp("two-epochs")
    path = root / "grpo-epochs"
    command = [sys.executable, "-m", "unipo.cli", "train", "--algo", "grpo", "--out", str(path), "--steps", "2",
               "--epochs", "2", "--minibatches", "1", "--prompts-per-step", "2", "--group-size", "4",
               "--max-new-tokens", "8", "--quiet", "--overwrite", "--eval-prompts", "0",
               "--cache-dir", str(repo / ".unipo-cache")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=repo)
    assert done.returncode == 0, done.stderr[-3000:]
    return path


def test_learning_last_beat_shows_the_stored_log_prob_before_and_after(browser, two_epoch_run):
    from support.live_server import LiveServer
    from unipo.server import create_app

    reader = RunReader(two_epoch_run)
    first = [r for r in reader.step(1).to_pylist() if r["position"] >= 0]
    second = [r for r in reader.step(2).to_pylist() if r["position"] >= 0]
    token = first[len(first) // 2]
    match = next(r for r in second if r["response_text"] == token["response_text"]
                 and r["prompt_text"] == token["prompt_text"] and r["position"] == token["position"])
    context, page = sized_page(browser, 1600, 1000)
    try:
        with LiveServer(create_app([two_epoch_run.parent])) as server:
            page.goto(server.url + f"/?run=grpo-epochs&step=1&token={token['response']}:{token['position']}")
            page.get_by_test_id("explainer-canvas").locator(".formula-card").first.wait_for(timeout=20000)
            page.get_by_role("button", name="Learning mode").click()
            for _ in range(5):
                page.get_by_test_id("learning-next").click()
            row = page.get_by_test_id("learning-after-row").first
            row.wait_for(timeout=20000)
            assert float(row.get_by_test_id("logprob-before").inner_text()) == pytest.approx(token["logprob"], rel=1e-3, abs=1e-6)
            after = row.get_by_test_id("logprob-after").inner_text().split()[0]
            assert float(after) == pytest.approx(match["logprob"], rel=1e-3, abs=1e-6)
            assert "step 2" in page.get_by_test_id("learning-after").inner_text()
            assert not page.errors, page.errors
    finally:
        context.close()


def test_selected_token_links_to_its_cards_and_its_group_stands_out(page, newcomer_server, newcomer_runs):
    rows = [r for r in RunReader(newcomer_runs / "grpo").step(3).to_pylist() if r["position"] >= 0]
    row = rows[len(rows) // 3]
    page.goto(newcomer_server.url + f"/?run=grpo&step=3&token={row['response']}:{row['position']}")
    page.get_by_test_id("explainer-canvas").locator("[data-card=advantage]").wait_for(timeout=20000)
    page.get_by_test_id("explainer-fit").click()  # every card in view
    page.locator(".tok.selected").first.scroll_into_view_if_needed()
    links = page.get_by_test_id("selection-links")
    page.wait_for_function(
        "() => { const s = document.querySelector('[data-testid=selection-links]');"
        " const to = [...s.querySelectorAll('path.link')].map(p => p.dataset.to);"
        " return to.includes('[data-card=ratio]') && to.includes('[data-card=advantage]'); }", timeout=10000)
    # The group's rewards link to the advantage card too: one line per visible response of the group.
    group_size = sum(1 for r in RunReader(newcomer_runs / "grpo").step(3).to_pylist()
                     if r["position"] == 0 and r["group"] == row["group"])
    assert int(links.get_attribute("data-count")) >= 2 + min(group_size, 1)
    # The selected token's group is outlined; the other groups recede.
    groups = page.get_by_test_id("step-inspector").locator(".group")
    opacities = groups.evaluate_all("gs => gs.map(g => [g.querySelector('.tok.selected') !== null, getComputedStyle(g).opacity])")
    assert [o for selected, o in opacities if selected] == ["1"]
    assert all(float(o) < 1 for selected, o in opacities if not selected)
    # The lines can be switched off.
    page.get_by_test_id("links-toggle").uncheck()
    assert page.get_by_test_id("selection-links").count() == 0
    assert not page.errors, page.errors


def test_every_metric_is_a_chip_with_a_definition(page, newcomer_server):
    page.goto(newcomer_server.url + "/?run=dr_grpo")
    page.get_by_test_id("radial-chart").locator("path.ring-line").first.wait_for(timeout=20000)
    page.get_by_test_id("metric-catalogue-toggle").click()
    catalogue = page.get_by_test_id("metric-catalogue")
    items = catalogue.locator("li")
    names = items.evaluate_all("lis => lis.map(li => li.dataset.metric)")
    assert "imported_score" in names and "loss" in names
    for i in range(items.count()):
        assert len(items.nth(i).locator(".catalogue-definition").inner_text().strip()) > 10
    # The run's own definition for a name UNIPO does not know.
    assert catalogue.locator("li[data-metric='imported_score'] .catalogue-definition").inner_text() == "Score the imported log defines."
    # A chip adds its metric as a ring.
    catalogue.locator("li[data-metric='imported_score'] button").click()
    page.get_by_test_id("radial-chart").locator("path.ring-line[data-metric='imported_score']").wait_for()
    assert not page.errors, page.errors


def test_the_explainer_is_resizable(page, newcomer_server):
    page.goto(newcomer_server.url + "/?run=grpo&step=3")
    column = page.get_by_test_id("explainer-col")
    column.locator(".formula-card").first.wait_for(timeout=20000)
    page.wait_for_timeout(400)  # the slide-in
    width = column.bounding_box()["width"]
    handle = page.get_by_test_id("explainer-resizer").bounding_box()
    x, y = handle["x"] + handle["width"] / 2, handle["y"] + 40
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - 100, y, steps=4)
    page.mouse.move(x - 200, y, steps=4)
    page.mouse.up()
    assert column.bounding_box()["width"] == pytest.approx(width + 200, abs=12)
    # Kept across a reload.
    page.reload()
    column.locator(".formula-card").first.wait_for(timeout=20000)
    page.wait_for_timeout(400)
    assert column.bounding_box()["width"] == pytest.approx(width + 200, abs=12)
    assert not page.errors, page.errors


def test_a_step_opened_on_the_radial_chart_turns_towards_the_explainer(page, newcomer_server):
    """The reference turns the selected step to a fixed angle (here 3 o'clock, beside the
    explainer) when the explainer opens; on a 40-update run the lens magnifies around it, and the
    step opened must stay the one the centre showed."""
    page.goto(newcomer_server.url + "/?run=grpo")
    chart = page.get_by_test_id("radial-chart")
    chart.locator("path.ring-line").first.wait_for(timeout=20000)
    page.mouse.move(*radial_point(page, 0.8))
    shown = chart.locator("text.centre-step").text_content().strip()
    page.mouse.down()
    page.mouse.up()
    page.get_by_test_id("step-inspector").get_by_role("heading", name=f"Step {shown}").wait_for(timeout=20000)
    page.get_by_test_id("explainer").wait_for()
    page.wait_for_function("() => document.querySelector('[data-testid=radial-chart]')?.dataset.turned === 'yes'", timeout=10000)
    page.mouse.move(5, 5)
    rule = chart.locator("line.selected-rule")
    angle = math.atan2(float(rule.get_attribute("x2")), -float(rule.get_attribute("y2"))) % (2 * math.pi)
    assert abs(angle - math.pi / 2) < 0.01, angle
    assert page.evaluate("new URLSearchParams(location.search).get('step')") == shown
    assert chart.locator("text.centre-step").text_content().strip() == shown
    assert not page.errors, page.errors
