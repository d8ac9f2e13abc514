"""End-to-end: the Algorithm Explainer, comparison / what-if and learning mode in a real browser.

The runs are written here with the real algorithm code (unipo.algorithms) on small synthetic
rollouts, exactly as the engine would log them, so the test is fast and every value it checks on
screen can be compared with RunReader and with a direct call of the algorithm.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from support.live_server import LiveServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "e2e"
WEB_DIR = Path(__file__).resolve().parents[2] / "src" / "unipo" / "web"

N_PROMPTS, GROUP, T = 3, 4, 7
PROMPTS = ["What is 2+3?", "What is 4+4?", "Sort 3 1 2 <b>now</b>"]
VOCAB = list("0123456789") + [" ", "+", "=", "\\frac", "}{", "<i>", "$x$"]


def synthetic_rollout(seed: int):
    """One rollout's inputs: the same for every algorithm (identical data), as the engine guarantees."""
    g = torch.Generator().manual_seed(seed)
    n = N_PROMPTS * GROUP
    lengths = torch.randint(2, T + 1, (n,), generator=g)
    mask = (torch.arange(T)[None, :] < lengths[:, None]).float()
    logprob = -torch.rand(n, T, generator=g) * 2.0
    old = logprob + 0.25 * torch.randn(n, T, generator=g)  # off-policy enough for clips to fire
    ref = logprob + 0.2 * torch.randn(n, T, generator=g)
    entropy = torch.rand(n, T, generator=g)
    rewards = torch.randint(0, 2, (n,), generator=g).float()
    rewards[0], rewards[1] = 1.0, 0.0  # group 0 is never zero-variance
    values = 0.5 * torch.randn(n, T, generator=g)
    token_ids = torch.randint(0, len(VOCAB), (n, T), generator=g)
    return dict(lengths=lengths, mask=mask, logprob=logprob, old=old, ref=ref, entropy=entropy,
                rewards=rewards, values=values, token_ids=token_ids)


def write_algorithm_run(path: Path, preset: str, steps: int = 2):
    """A run trained (synthetically) with `preset`: every term computed by unipo.algorithms."""
    from unipo.algorithms import get_preset
    from unipo.runs import RunWriter, StepRecord

    algo = get_preset(preset)
    writer = RunWriter.create(path, {
        "name": path.name, "algorithm": algo.to_dict(), "task": {"name": "synthetic"},
        "model": {"name": "none"}, "seed": 0, "config": {"minibatches": 1}})
    n = N_PROMPTS * GROUP
    group_ids = torch.arange(N_PROMPTS).repeat_interleave(GROUP)
    for step in range(1, steps + 1):
        r = synthetic_rollout(step)
        values = r["values"] * r["mask"] if algo.uses_values else None
        details = algo.advantage_details(r["rewards"], group_ids, mask=r["mask"], logprobs=r["old"],
                                         ref_logprobs=r["ref"], values=values)
        from unipo.algorithms import StepInputs, recompute
        logprob = r["logprob"].clone().requires_grad_(True)
        out = recompute(algo, StepInputs(logprobs=logprob, mask=r["mask"], old_logprobs=r["old"],
                                         advantages=details.advantages, ref_logprobs=r["ref"],
                                         entropies=r["entropy"], values=values,
                                         truncated=torch.zeros(n, dtype=torch.bool)))
        tokens = [[VOCAB[int(i)] for i in row] for row in r["token_ids"]]
        writer.write_update(step, StepRecord(
            prompt_index=np.repeat(np.arange(N_PROMPTS), GROUP),
            group_id=group_ids.numpy() + 100 * step,
            prompt_text=[p for p in PROMPTS for _ in range(GROUP)],
            response_text=["".join(tokens[i][: int(r["lengths"][i])]) for i in range(n)],
            reward=r["rewards"].numpy(), mask=r["mask"].numpy(), token_ids=r["token_ids"].numpy(),
            tokens=tokens, truncated=np.zeros(n, dtype=bool),
            logprob=r["logprob"].numpy(), old_logprob=r["old"].numpy(), ref_logprob=r["ref"].numpy(),
            entropy=r["entropy"].numpy(),
            value=None if values is None else values.numpy(),
            returns=None if details.returns is None else details.returns.detach().numpy(),
            terms={k: v.detach().numpy() for k, v in out.terms.items()},
            rollout=step, epoch=0, minibatch=0,
        ), {"loss": float(out.loss.detach()), "policy_loss": float(out.loss.detach()), "grad_norm": float(out.push.norm()),
            "lr": 1e-5, "rollout": step, "epoch": 0, "minibatch": 0})
    writer.close("finished")


@pytest.fixture(scope="module")
def algo_runs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("explainer-runs")
    write_algorithm_run(root / "grpo-run", "grpo")
    write_algorithm_run(root / "drgrpo-run", "dr_grpo")
    return root


@pytest.fixture(scope="module")
def algo_server(algo_runs):
    if not (WEB_DIR / "index.html").exists():
        pytest.skip("the web bundle is not built (cd frontend && npm run build)")
    from unipo.server import create_app

    with LiveServer(create_app([algo_runs], poll_interval_s=0.2)) as server:
        yield server


@pytest.fixture
def page(browser):  # the session's one Chromium (conftest.browser): Playwright allows one per process
    context = browser.new_context(viewport={"width": 1600, "height": 1100})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("dialog", lambda d: (errors.append(f"dialog: {d.message}"), d.dismiss()))
    yield pg
    context.close()
    assert not errors, f"page errors: {errors}"


def shot(page, name: str):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def raw(locator) -> float:
    return float(locator.get_attribute("data-raw"))


def stored_token(run_dir: Path, step: int, response: int, position: int) -> dict:
    from unipo.runs import RunReader

    rows = RunReader(run_dir).response(step, response).to_pylist()
    return next(row for row in rows if row["position"] == position)


def open_step(page, url: str, run: str, step: int, token: tuple[int, int] | None = None, **extra):
    query = f"?run={run}&step={step}"
    if token:
        query += f"&token={token[0]}:{token[1]}"
    for key, value in extra.items():
        query += f"&{key}={value}"
    page.goto(url + "/" + query)
    page.get_by_test_id("explainer").wait_for(timeout=20000)


def find_clipped_token(run_dir: Path, step: int) -> tuple[int, int]:
    from unipo.runs import RunReader

    rows = RunReader(run_dir).step(step).to_pylist()
    row = next((r for r in rows if r["min_branch"] == 1), rows[0])
    return row["response"], row["position"]


def test_explainer_shows_stored_values_of_selected_token(algo_server, algo_runs, page):
    response, position = find_clipped_token(algo_runs / "grpo-run", 1)
    open_step(page, algo_server.url, "grpo-run", 1, (response, position))
    stored = stored_token(algo_runs / "grpo-run", 1, response, position)

    ratio = page.get_by_test_id("formula-card-ratio").get_by_test_id("term-value-ratio")
    advantage = page.get_by_test_id("formula-card-advantage").get_by_test_id("term-value-advantage")
    objective = page.get_by_test_id("formula-card-token_objective").get_by_test_id("term-value-token_objective")
    ratio.wait_for(timeout=10000)
    assert raw(ratio) == pytest.approx(stored["ratio"], rel=1e-6)
    assert raw(advantage) == pytest.approx(stored["advantage"], rel=1e-6)
    assert raw(objective) == pytest.approx(stored["token_objective"], rel=1e-6, abs=1e-9)

    check = page.get_by_test_id("objective-check")
    assert check.get_attribute("data-status") == "match"
    assert "✓" in check.inner_text()
    # The stored min() branch is marked on the clip card.
    branch = page.get_by_test_id("clip-branch")
    assert branch.get_attribute("data-winner") == ("clipped" if stored["min_branch"] == 1 else "unclipped")
    # Token strings are escaped into the formula, never injected.
    assert page.locator(".formula i").count() == 0
    assert page.locator(".formula b").count() == 0
    # Each card says what the server found when it evaluated its equations on this step's columns.
    proofs = page.get_by_test_id("card-proof")
    assert proofs.count() >= 5
    statuses = {proofs.nth(i).get_attribute("data-status") for i in range(proofs.count())}
    assert statuses <= {"holds", "unchecked"} and "holds" in statuses
    assert "holds on this step" in page.get_by_test_id("formula-card-clip").get_by_test_id("card-proof").inner_text()
    shot(page, "explainer-token")

    # Clicking a term opens (focuses) the card that explains it.
    page.get_by_test_id("formula-card-token_objective").locator(".formula .t-surrogate").first.click()
    page.wait_for_function("document.querySelector('[data-testid=formula-card-clip]').classList.contains('focused')")


def test_compare_grpo_with_dr_grpo_marks_differences(algo_server, page):
    open_step(page, algo_server.url, "grpo-run", 1, (0, 0))
    page.get_by_test_id("compare-select").select_option("dr_grpo")
    summary = page.get_by_test_id("compare-summary")
    summary.wait_for()
    aggregation = page.get_by_test_id("formula-card-aggregation")
    assert aggregation.get_attribute("data-diff") == "variant-differs"
    advantage = page.get_by_test_id("formula-card-advantage")
    assert advantage.get_attribute("data-diff") == "variant-differs"
    # GRPO's std term has no counterpart in Dr. GRPO: highlighted as a part only on this side.
    std_term = advantage.locator(".formula .t-group_std").first
    assert "diff-here" in std_term.get_attribute("class")
    # Cards both share keep the "same" mark; the KL card is GRPO's only.
    assert page.get_by_test_id("formula-card-ratio").get_attribute("data-diff") == "shared"
    assert page.get_by_test_id("formula-card-kl").get_attribute("data-diff") == "only-a"
    # B's values come from the server's what-if route.
    page.get_by_test_id("formula-card-token_objective").get_by_test_id("term-other-value-token_objective").wait_for(timeout=10000)
    shot(page, "explainer-compare-dr-grpo")


def test_whatif_matches_direct_algorithm_call(algo_server, algo_runs, page):
    from unipo.algorithms import get_preset
    from unipo.runs import RunReader

    reader = RunReader(algo_runs / "grpo-run")
    table = reader.step(1).to_pylist()
    response, position = 2, 1
    open_step(page, algo_server.url, "grpo-run", 1, (response, position), compare="dapo", whatif="1")
    panel = page.get_by_test_id("whatif")
    panel.wait_for(timeout=10000)
    if page.get_by_test_id("whatif-select").input_value() != "dapo":
        page.get_by_test_id("whatif-select").select_option("dapo")
    cell = page.get_by_test_id("whatif-token_objective")
    cell.wait_for(timeout=20000)

    # The same inputs, straight into unipo.algorithms.
    n = max(r["response"] for r in table) + 1
    t = max(r["position"] for r in table) + 1
    grid = {name: torch.zeros(n, t, dtype=torch.float32) for name in ("logprob", "old_logprob", "ref_logprob", "entropy")}
    mask = torch.zeros(n, t)
    rewards, groups = torch.zeros(n), torch.zeros(n, dtype=torch.long)
    for r in table:
        i, p = r["response"], r["position"]
        mask[i, p] = 1
        rewards[i], groups[i] = r["reward"], r["group"]
        for name in grid:
            grid[name][i, p] = r[name]
    algo = get_preset("dapo")
    adv = algo.advantages(rewards, groups, mask=mask, logprobs=grid["old_logprob"], ref_logprobs=grid["ref_logprob"])
    out = algo.objective(grid["logprob"], grid["old_logprob"], mask, advantages=adv, ref_logprobs=grid["ref_logprob"],
                         entropies=grid["entropy"], truncated=torch.zeros(n, dtype=torch.bool))
    expected = float(out.terms["token_objective"][response, position])
    assert raw(cell) == pytest.approx(expected, rel=1e-5, abs=1e-7)
    stored = stored_token(algo_runs / "grpo-run", 1, response, position)
    assert raw(page.get_by_test_id("stored-token_objective")) == pytest.approx(stored["token_objective"], rel=1e-6, abs=1e-9)
    # The server's summary is shown: both losses and the change counts.
    assert raw_text_number(page.get_by_test_id("loss-whatif").inner_text()) == pytest.approx(float(out.loss), rel=1e-3)
    page.get_by_test_id("push-flips").wait_for()
    page.get_by_test_id("newly-clipped").wait_for()
    # The difference column is painted from the server's token_objective_delta.
    delta = raw(page.get_by_test_id("whatif-token_objective_delta"))
    assert delta == pytest.approx(expected - stored["token_objective"], rel=1e-4, abs=1e-6)
    assert page.get_by_test_id(f"whatif-third-{response}").get_attribute("data-kind") == "difference"
    # The compared algorithm follows the URL.
    assert "compare=dapo" in page.url
    panel.scroll_into_view_if_needed()
    shot(page, "whatif-dapo")


def raw_text_number(text: str) -> float:
    text = text.strip().replace("×10^", "e")
    return float(text)


def test_learning_mode_plays_six_beats_on_the_real_views(algo_server, page):
    """The beats happen in the explorer, inspector and explainer themselves (no modal): each beat
    shows only what exists by then, its explainer card comes into view, and arrows point there."""
    open_step(page, algo_server.url, "grpo-run", 2)
    inspector = page.get_by_test_id("step-inspector")
    inspector.locator("article.response").first.wait_for()
    page.get_by_role("button", name="Learning mode").click()
    bar = page.get_by_test_id("learning-mode")
    bar.wait_for()
    assert page.get_by_role("dialog").count() == 0  # on the page, not over it
    narration = page.get_by_test_id("learning-narration")
    expected = ["prompts", "responses", "rewards", "objectives", "aggregation", "update"]
    assert narration.get_attribute("data-beat") == "prompts"
    # Beat 1: the prompts only — the real inspector hides the responses, their rewards and metrics.
    assert inspector.locator(".group .prompt").first.is_visible()
    assert not inspector.locator("article.response").first.is_visible()
    assert page.get_by_test_id("learning-metrics").count() == 0
    page.wait_for_function("Number(document.querySelector('[data-testid=learning-arrows]').dataset.count) >= 1")
    shot(page, "learning-1-prompts")
    for index, beat in enumerate(expected[1:], start=2):
        page.get_by_test_id("learning-next").click()
        page.wait_for_function(f"document.querySelector('[data-testid=learning-narration]').dataset.beat === '{beat}'")
        if beat == "responses":
            assert inspector.locator("article.response .tokens").first.is_visible()
            assert not inspector.locator("article.response .reward").first.is_visible()
        if beat == "rewards":
            assert inspector.locator("article.response .reward").first.is_visible()
            assert page.get_by_test_id("learning-metrics").count() == 0
            # The advantage card comes into view in the explainer, highlighted.
            expect_focused(page, "advantage")
        if beat == "aggregation":
            assert page.get_by_test_id("learning-metric-loss").count() == 1
            assert page.get_by_test_id("learning-metric-grad_norm").count() == 0
            expect_focused(page, "aggregation")
        if beat == "update":
            assert page.get_by_test_id("learning-metric-grad_norm").count() == 1
            assert page.get_by_test_id("learning-metric-lr").count() == 1
            # Each step of this run is its own rollout: no later log-prob exists, and it says so.
            page.get_by_test_id("learning-after-unavailable").wait_for()
        shot(page, f"learning-{index}-{beat}")
    # Play from the end starts over and advances by itself.
    page.get_by_test_id("learning-play").click()
    page.wait_for_function("document.querySelector('[data-testid=learning-narration]').dataset.beat === 'prompts'")
    page.get_by_test_id("learning-close").click()
    assert page.get_by_test_id("learning-mode").count() == 0
    assert inspector.locator("article.response").first.is_visible()


def expect_focused(page, card_id: str) -> None:
    page.wait_for_function(
        f"document.querySelector('[data-card={card_id}]')?.classList.contains('focused')", timeout=5000)


def test_side_by_side_aligns_prompt_groups(algo_server, page):
    page.goto(algo_server.url + "/?run=grpo-run,drgrpo-run&step=1")
    view = page.get_by_test_id("side-by-side")
    view.wait_for(timeout=20000)
    page.wait_for_function("document.querySelectorAll('[data-testid=side-by-side] .response').length >= 2 * %d" % (N_PROMPTS * GROUP))
    prompts = [t.strip() for t in view.locator(".prompt-text").all_inner_texts()]
    assert prompts == PROMPTS  # identical data: every prompt once, in order, in one row for both runs
    assert view.get_by_text("not in this run’s step").count() == 0
    shot(page, "side-by-side")
