"""End to end: the Step Inspector shows a capture's header-declared check (TRL loss = UNIPO loss)
per step, and typesets the math of prompts and responses with a raw/rendered switch.

The run is written with unipo.runs.RunWriter from unipo.algorithms outputs, with the header entry the
TRL capture writes (unipo.integrations.trl.LOSS_CHECK): step 1 logs agreeing losses, step 2 a
difference of 0.02. Its prompts hold `$…$` math and hostile markup, which must stay inert text.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from support.live_server import LiveServer
from unipo.server import create_app

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

N_PROMPTS, GROUP, T = 2, 3, 5
VOCAB = list("0123456789+= ")
HOSTILE = "<img src=x onerror=\"window.__pwned=1\">"
PROMPTS = [f"Solve $x^2 = 4$ for x. {HOSTILE}", f"Area of a circle: \\(\\pi r^2\\), and $<img src=y onerror=\"window.__pwned=2\">$"]
RESPONSE_WITH_MATH = "so $x = \\frac{4}{2}$"
TRL_LOSS = 0.731
STEPS = {1: TRL_LOSS + 3e-8, 2: TRL_LOSS + 0.02}


def write_run(path) -> None:
    from unipo.algorithms import get_preset
    from unipo.integrations.trl import LOSS_CHECK
    from unipo.runs import RunWriter, StepRecord

    algo = get_preset("grpo")
    g = torch.Generator().manual_seed(3)
    n = N_PROMPTS * GROUP
    header = {"name": path.name, "algorithm": algo.to_dict(), "loss_check": dict(LOSS_CHECK),
              "task": {"name": "synthetic"}, "model": {"name": "none"}, "seed": 0}
    with RunWriter.create(path, header) as writer:
        for step, unipo_loss in STEPS.items():
            mask = torch.ones(n, T)
            logprob = -torch.rand(n, T, generator=g)
            old = logprob + 0.05 * torch.randn(n, T, generator=g)
            ref = logprob + 0.05 * torch.randn(n, T, generator=g)
            rewards = torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 1.0])
            group_ids = torch.arange(N_PROMPTS).repeat_interleave(GROUP)
            token_ids = torch.randint(0, len(VOCAB), (n, T), generator=g)
            out = algo.objective(logprob, old, mask, advantages=algo.advantages(rewards, group_ids, mask=mask),
                                 ref_logprobs=ref, entropies=torch.rand(n, T, generator=g),
                                 truncated=torch.zeros(n, dtype=torch.bool))
            tokens = [[VOCAB[int(i)] for i in row] for row in token_ids]
            writer.write_update(step, StepRecord(
                prompt_index=group_ids.numpy(), group_id=group_ids.numpy(),
                prompt_text=[PROMPTS[int(p)] for p in group_ids], reward=rewards.numpy(),
                response_text=[RESPONSE_WITH_MATH if i == 0 else "".join(tokens[i]) for i in range(n)],
                mask=mask.numpy(), token_ids=token_ids.numpy(), tokens=tokens, truncated=np.zeros(n, dtype=bool),
                logprob=logprob.numpy(), old_logprob=old.numpy(), ref_logprob=ref.numpy(), entropy=None,
                terms={k: v.detach().numpy().copy() for k, v in out.terms.items()}, rollout=step, epoch=0,
                minibatch=0,
            ), {"policy_loss": float(out.loss), "trl_loss": TRL_LOSS, "unipo_loss": unipo_loss,
                "loss_check_abs_diff": abs(unipo_loss - TRL_LOSS),
                "loss_check_ok": int(abs(unipo_loss - TRL_LOSS) <= 1e-6 + 1e-4 * TRL_LOSS)})


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("inspector-checks")
    write_run(root / "trl-capture")
    with LiveServer(create_app([root])) as live:
        yield live


def test_trl_loss_check_is_shown_per_step(page, server, artifacts_dir):
    page.goto(server.url + "/?run=trl-capture&step=1")
    line = page.get_by_test_id("external-check")
    line.wait_for(timeout=20000)
    assert line.get_attribute("data-status") == "holds"
    text = line.inner_text()
    assert "TRL loss = UNIPO loss ✓" in text and "|Δ| = 3.000e-8" in text
    assert page.get_by_test_id("step-checks").get_attribute("role") is None  # a quiet line, no alert

    page.goto(server.url + "/?run=trl-capture&step=2")
    line = page.locator("[data-testid=external-check][data-status=fails]")
    line.wait_for(timeout=20000)
    text = line.inner_text()
    assert "TRL loss ≠ UNIPO loss" in text
    assert "trl_loss = 0.731" in text and "unipo_loss = 0.751" in text and "|Δ| = 0.02 >" in text
    assert page.get_by_test_id("step-checks").get_attribute("role") == "alert"
    page.screenshot(path=str(artifacts_dir / "inspector-trl-loss-check.png"))


def test_math_is_typeset_with_a_raw_switch_and_hostile_text_stays_inert(page, server, artifacts_dir):
    page.goto(server.url + "/?run=trl-capture&step=1")
    prompt = page.get_by_test_id("prompt-text").first
    prompt.wait_for(timeout=20000)
    page.locator("[data-testid=prompt-text] .katex").first.wait_for(timeout=10000)
    assert prompt.get_attribute("data-math") == "rendered"
    # KaTeX typesets x² (a superscript), the rest of the prompt is the stored text, markup included.
    assert prompt.locator(".katex .msupsub").count() == 1
    assert HOSTILE in prompt.inner_text()
    assert page.locator("[data-testid=response-rendered] .katex .mfrac").count() == 1
    # Math containing markup is typeset as characters, never as an element.
    second = page.get_by_test_id("prompt-text").nth(1)
    # (KaTeX may reject it, `__` is a double subscript: then it shows the TeX as an error, still text.)
    assert second.get_by_test_id("math-segment").count() == 2
    assert "img" in second.get_by_test_id("math-segment").nth(1).inner_text()
    assert page.locator(".inspector img, [data-testid=prompt-text] img, .katex img").count() == 0
    page.screenshot(path=str(artifacts_dir / "inspector-math-rendered.png"))

    page.get_by_test_id("math-toggle").first.uncheck()
    assert prompt.get_attribute("data-math") == "raw"
    assert page.locator("[data-testid=prompt-text] .katex").count() == 0
    assert page.get_by_test_id("response-rendered").count() == 0
    assert prompt.inner_text() == PROMPTS[0]
    assert second.inner_text() == PROMPTS[1]
    page.get_by_test_id("math-toggle").first.check()
    assert prompt.locator(".katex").count() == 1
    assert page.evaluate("window.__pwned") is None
    assert page.locator("img").count() == 0
