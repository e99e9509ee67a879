"""The suite ``lm_eval``: lm-evaluation-harness tasks as a Task of our harness.

Design (lm-eval 0.4.13):

1. ``load()`` runs ``lm_eval.simple_evaluate`` with a model that only collects the requests lm-eval builds
   (prompts, fewshot, chat template, stop strings) and stops it there. Each request becomes one of our
   samples (``<task>/<doc_id>``), so prompts are exactly lm-eval's, built by lm-eval's own code path.
2. Our engine generates every sample x repeat (effort, per-repeat seeds, concurrency, resume, progress bar).
   ``solve`` cuts the final channel at the task's ``until`` strings after generation (never sent).
3. ``grade`` scores each attempt with the lm-eval task's own filter pipelines and ``process_results``
   (e.g. GPQA's regex extraction + exact_match): the per-attempt score is the primary metric (default: the
   task's first metric under its first filter), so our pass@1 / CI / effort checks work as for native suites.
4. ``finalize(run_dir)`` runs ``simple_evaluate`` again with ``gptoss-harmony`` in replay mode: every answer
   comes from the store (no request), lm-eval filters, scores and aggregates as it always does (stderr,
   groups), and ``lm_eval_results.json`` + ``lm_eval_samples.jsonl`` + ``lm_eval_summary.json`` are written
   beside the store.

Only generative tasks (``output_type: generate_until``) are supported. Decoding follows our config (temperature
1.0, long budgets), not the task's ``generation_kwargs`` (often greedy with a short ``max_gen_toks`` that
would truncate the reasoning); the task's values are recorded in each attempt.
"""

from __future__ import annotations

import json
import logging
import math
from importlib import metadata
from pathlib import Path
from typing import Any

from evals.task import DataUnavailable, Episode, ModelSession, Task, assistant_message
from evals.types import Attempt, Grade, Sample
from tasks.lm_eval_bridge.common import (
    BridgeError,
    HarmonyChatTemplate,
    context_digest,
    context_to_messages,
    lm_eval_missing_message,
    request_info,
    response_for_lm_eval,
    sample_id,
)
from tasks.lm_eval_bridge.report import SUMMARY, lm_eval_sections

log = logging.getLogger(__name__)

RESULTS = "lm_eval_results.json"
SAMPLES = "lm_eval_samples.jsonl"


class _Collected(Exception):
    def __init__(self, requests: list[Any]) -> None:
        super().__init__("requests collected")
        self.requests = requests


def _collector_cls() -> type:
    from lm_eval.api.model import LM

    class CollectingLM(HarmonyChatTemplate, LM):
        """Takes lm-eval's requests and stops ``simple_evaluate`` before anything is scored."""

        def loglikelihood(self, requests: list[Any], disable_tqdm: bool = False) -> Any:
            names = sorted({r.task_name for r in requests})
            raise BridgeError(f"lm-eval tasks {names} ask for log-likelihoods: the lm_eval suite runs generative "
                              f"tasks only (output_type: generate_until), e.g. gpqa_diamond_cot_zeroshot")

        def loglikelihood_rolling(self, requests: list[Any], disable_tqdm: bool = False) -> Any:
            return self.loglikelihood(requests)

        def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> Any:
            raise _Collected(list(requests))

    return CollectingLM


def _keeping_task_manager(**kwargs: Any) -> Any:
    """lm-eval's TaskManager, remembering the task objects ``simple_evaluate`` loads through it."""
    from lm_eval.tasks import TaskManager

    class KeepingTaskManager(TaskManager):
        loaded: dict[str, Any] | None = None

        def load(self, task_list: Any) -> Any:
            self.loaded = super().load(task_list)
            return self.loaded

    return KeepingTaskManager(**kwargs)


def _number(v: Any) -> float | None:
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, float)) and not (isinstance(v, float) and math.isnan(v)):
        return float(v)
    try:
        import numpy as np

        if isinstance(v, np.generic):
            return float(v)
    except ImportError:  # pragma: no cover
        pass
    return None


def _jsonable(v: Any) -> Any:
    return json.loads(json.dumps(v, default=str))


class LmEvalTask(Task):
    """lm-eval tasks by name (``tasks=[gpqa_diamond_cot_zeroshot]``) run and graded as described above."""

    version = "1"

    def __init__(self, name: str = "lm_eval", tasks: list[str] | str | None = None, *,
                 include_path: str | list[str] | None = None, include_defaults: bool = True,
                 num_fewshot: int | None = None, limit: int | float | None = None,
                 samples: dict[str, list[int]] | None = None, apply_chat_template: bool = True,
                 fewshot_as_multiturn: bool = True, system_instruction: str | None = None,
                 gen_kwargs: dict[str, Any] | None = None, random_seed: int = 0, numpy_random_seed: int = 1234,
                 fewshot_random_seed: int = 1234, repeats: int | None = None, primary_metric: str | None = None,
                 primary_filter: str | None = None, card_key: str | None = None, bootstrap_iters: int = 1000,
                 confirm_run_unsafe_code: bool = False, metadata: dict[str, Any] | None = None) -> None:
        if isinstance(tasks, str):
            tasks = [t.strip() for t in tasks.split(",") if t.strip()]
        self.name = name
        self.tasks = list(tasks or [])
        self.include_path = include_path
        self.include_defaults = include_defaults
        self.num_fewshot = num_fewshot
        self.limit = limit
        self.samples = samples
        self.apply_chat_template = apply_chat_template
        self.fewshot_as_multiturn = fewshot_as_multiturn
        self.system_instruction = system_instruction
        self.gen_kwargs = gen_kwargs
        self.random_seed = random_seed
        self.numpy_random_seed = numpy_random_seed
        self.fewshot_random_seed = fewshot_random_seed
        self.repeats = repeats
        self.primary_metric = primary_metric
        self.primary_filter = primary_filter
        self._card_key = card_key
        self.bootstrap_iters = bootstrap_iters
        self.confirm_run_unsafe_code = confirm_run_unsafe_code
        self.metadata = metadata
        self._samples: list[Sample] | None = None
        self._requests: dict[str, Any] = {}
        self._task_objs: dict[str, Any] = {}

    # -- lm-eval plumbing -------------------------------------------------------------------------
    def _eval_kwargs(self) -> dict[str, Any]:
        """Everything ``simple_evaluate`` gets besides the model: identical in the collect and score passes."""
        return {"tasks": list(self.tasks), "num_fewshot": self.num_fewshot, "limit": self.limit,
                "samples": self.samples, "system_instruction": self.system_instruction,
                "apply_chat_template": self.apply_chat_template, "fewshot_as_multiturn": self.fewshot_as_multiturn,
                "gen_kwargs": dict(self.gen_kwargs) if self.gen_kwargs else None, "random_seed": self.random_seed,
                "numpy_random_seed": self.numpy_random_seed, "torch_random_seed": None,
                "fewshot_random_seed": self.fewshot_random_seed,
                "confirm_run_unsafe_code": self.confirm_run_unsafe_code}

    def _task_manager(self) -> Any:
        return _keeping_task_manager(include_path=self.include_path, include_defaults=self.include_defaults,
                                     metadata=dict(self.metadata or {}))

    def _collect(self) -> tuple[list[Any], dict[str, Any]]:
        if not self.tasks:
            raise DataUnavailable("suite lm_eval needs lm-eval task names: 'suite.tasks=[gpqa_diamond_cot_zeroshot]'")
        try:
            import lm_eval
        except ImportError as exc:
            raise DataUnavailable(lm_eval_missing_message()) from exc
        tm = self._task_manager()
        try:
            lm_eval.simple_evaluate(model=_collector_cls()(), task_manager=tm, bootstrap_iters=0,
                                    log_samples=False, **self._eval_kwargs())
        except _Collected as got:
            return got.requests, dict((tm.loaded or {}).get("tasks") or {})
        except BridgeError:
            raise
        except Exception as exc:
            first = str(exc).splitlines()[0][:300] if str(exc) else ""
            hint = (" GPQA is a gated Hugging Face dataset: accept its terms at "
                    "https://huggingface.co/datasets/Idavidrein/gpqa and log in (HF_TOKEN) first."
                    if any("gpqa" in t for t in self.tasks) else "")
            raise DataUnavailable(f"lm-eval could not build tasks {self.tasks}: {type(exc).__name__}: {first}."
                                  f"{hint}") from exc
        raise BridgeError(f"lm-eval tasks {self.tasks} produced no generate_until requests")

    def load(self) -> list[Sample]:
        if self._samples is not None:
            return self._samples
        requests, task_objs = self._collect()
        samples: list[Sample] = []
        for req in requests:
            sid = sample_id(req.task_name, req.doc_id, req.idx)
            if sid in self._requests:
                continue  # a repeat copy of a request already taken
            context, gen_kwargs = req.args[0], req.args[1]
            messages, prefill = context_to_messages(context)
            task_obj = task_objs[req.task_name]
            try:
                reference = _jsonable(task_obj.doc_to_target(req.doc))
            except Exception:  # a target that is not a plain value only matters to lm-eval's metric
                reference = None
            self._requests[sid] = req
            samples.append(Sample(id=sid, input=messages, reference=reference, metadata={
                "lm_eval": request_info(req.task_name, req.doc_id, req.idx, context, gen_kwargs, prefill),
                "lm_eval_repeats": req.repeats}))
        self._task_objs = task_objs
        many = sorted({s.metadata["lm_eval"]["task"] for s in samples if s.metadata["lm_eval"]["idx"]})
        if many:
            raise BridgeError(f"lm-eval tasks {many} make several generate requests per document; the bridge "
                              f"grades one request per document")
        lm_repeats = {s.metadata["lm_eval_repeats"] or 1 for s in samples}
        self.default_repeats = int(self.repeats or max(lm_repeats))
        self._samples = samples
        return samples

    # -- Task API ---------------------------------------------------------------------------------
    async def solve(self, sample: Sample, model: ModelSession) -> Episode:
        messages = [dict(m) for m in sample.input]
        out = await model.generate(messages)
        info = {"lm_eval": sample.metadata["lm_eval"]}
        # The stop strings cut the FINAL channel only, after generation (status as the engine decides it).
        info["response"] = response_for_lm_eval("ok", out.final, info["lm_eval"]["until"])
        return Episode(transcript=[*messages, assistant_message(out)], output=out, info=info)

    def _primary(self, task_obj: Any, filters: list[str], metrics: dict[str, Any]) -> tuple[str, str]:
        filt = self.primary_filter if self.primary_filter in filters else filters[0]
        names = list(getattr(task_obj, "_metric_fn_list", {}) or {}) or list(metrics)
        metric = self.primary_metric if self.primary_metric in metrics else next(
            (m for m in names if m in metrics), next(iter(metrics), ""))
        return filt, metric

    def score_response(self, sid: str, response: str) -> dict[str, Any]:
        """lm-eval's filters and ``process_results`` on one response: ``{filter: {"filtered", "metrics"}}``."""
        from lm_eval.api.instance import Instance

        self.load()
        req = self._requests[sid]
        task_obj = self._task_objs[req.task_name]
        probe = Instance(request_type=req.request_type, doc=req.doc, arguments=req.arguments, idx=req.idx,
                         metadata=(req.task_name, req.doc_id, 1))
        probe.resps = [response]
        for ensemble in getattr(task_obj, "_filters", []):
            ensemble.apply([probe])
        if not probe.filtered_resps:
            probe.filtered_resps["none"] = response
        return {name: {"filtered": filtered, "metrics": task_obj.process_results(req.doc, [filtered])}
                for name, filtered in probe.filtered_resps.items()}

    def grade(self, sample: Sample, attempt: Attempt) -> Grade:
        until = sample.metadata["lm_eval"]["until"]
        response = response_for_lm_eval(attempt.status, attempt.final_text, until)
        scored = self.score_response(sample.id, response)
        task_obj = self._task_objs[sample.metadata["lm_eval"]["task"]]
        first = next(iter(scored.values()))["metrics"]
        filt, metric = self._primary(task_obj, list(scored), first)
        value = scored[filt]["metrics"].get(metric)
        score = _number(value)
        details = {"lm_eval_task": sample.metadata["lm_eval"]["task"], "filter": filt, "metric": metric,
                   "aggregation": getattr(getattr(task_obj, "_aggregation_list", {}).get(metric), "__name__", None),
                   "by_filter": {k: {"filtered": _jsonable(v["filtered"]), "metrics": _jsonable(v["metrics"])}
                                 for k, v in scored.items()}}
        if score is None:
            return Grade(key=attempt.key, score=0.0, answer=_jsonable(scored[filt]["filtered"]), details=details,
                         reason=f"lm-eval metric {metric} is not a per-sample number ({type(value).__name__}); see "
                                f"lm_eval_results.json for its corpus-level value")
        return Grade(key=attempt.key, score=score, answer=_jsonable(scored[filt]["filtered"]), details=details,
                     reason=f"lm-eval {metric} ({filt}) = {score:g}; expected {sample.reference!r}")

    def settings(self) -> dict[str, Any]:
        samples = self.load()
        prompts = [(s.id, s.metadata["lm_eval"]["context_sha"], s.metadata["lm_eval"]["until"]) for s in samples]
        try:
            lm_version = metadata.version("lm-eval")
        except metadata.PackageNotFoundError:  # pragma: no cover
            lm_version = None
        task_versions = {n: (getattr(t, "config", None) and (t.config.metadata or {}).get("version"))
                         for n, t in sorted(self._task_objs.items())}
        return {"name": self.name, "version": self.version, "lm_eval": lm_version, "task_versions": task_versions,
                "eval": {k: v for k, v in self._eval_kwargs().items()}, "primary_metric": self.primary_metric,
                "primary_filter": self.primary_filter,
                "prompts_sha": context_digest(json.dumps(prompts, sort_keys=True))}

    def card_key(self) -> str | None:
        return self._card_key

    @classmethod
    def suite_metrics(cls, run_dir: Path) -> list[dict[str, Any]]:
        return lm_eval_sections(run_dir)

    # -- lm-eval's own scoring over the store -----------------------------------------------------
    def finalize(self, run_dir: str | Path, *, model_name: str | None = None, effort: str = "medium") -> list[dict]:
        """Score the stored attempts with ``lm_eval.simple_evaluate`` (no request) and write the results.

        Writes ``lm_eval_results.json`` (lm-eval's results dict, per-sample logs left out),
        ``lm_eval_samples.jsonl`` (lm-eval's per-sample logs) and ``lm_eval_summary.json`` (flat rows, the
        report's input) into ``run_dir``; returns the rows. Raises :class:`BridgeError` if an attempt lm-eval
        needs is missing (e.g. the run used fewer repeats than the lm-eval task asks for).
        """
        import lm_eval
        from lm_eval.utils import handle_non_serializable

        from evals.store import RunStore
        from tasks.lm_eval_bridge.model import GptOssHarmonyLM

        run_dir = Path(run_dir)
        store = RunStore(run_dir)
        manifest = store.read_manifest() or {}
        lm = GptOssHarmonyLM(replay_only=True, store=store, effort=manifest.get("effort") or effort,
                             model_name=model_name or manifest.get("model"), suite=self.name,
                             settings_hash=manifest.get("settings_hash"), run_id=manifest.get("run_id"))
        results = lm_eval.simple_evaluate(model=lm, task_manager=self._task_manager(),
                                          bootstrap_iters=self.bootstrap_iters, log_samples=True,
                                          **self._eval_kwargs())
        if results is None:  # pragma: no cover - only on non-zero ranks
            raise BridgeError("lm-eval returned no results")
        samples = results.pop("samples", None) or {}
        results["config"]["model"] = f"{GptOssHarmonyLM.__name__} (replay of {run_dir})"
        dump = json.dumps(results, indent=2, default=handle_non_serializable, ensure_ascii=False)
        (run_dir / RESULTS).write_text(dump)
        with open(run_dir / SAMPLES, "w", encoding="utf-8") as fh:
            for task_name, rows in samples.items():
                for row in rows:
                    fh.write(json.dumps({"task": task_name, **row}, default=handle_non_serializable,
                                        ensure_ascii=False) + "\n")
        rows = summary_rows(json.loads(dump))
        (run_dir / SUMMARY).write_text(json.dumps(rows, indent=2))
        return rows


def summary_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Flat rows ``{task, metric, filter, value, stderr, n, higher_is_better}`` from lm-eval's results dict."""
    rows = []
    n_samples = results.get("n-samples") or {}
    hib = results.get("higher_is_better") or {}
    for task_name, metrics in sorted((results.get("results") or {}).items()):
        for key, value in metrics.items():
            if "," not in key or "_stderr," in key:
                continue
            metric, filt = key.split(",", 1)
            stderr = metrics.get(f"{metric}_stderr,{filt}")
            rows.append({"task": task_name, "metric": metric, "filter": filt, "value": _number(value),
                         "stderr": _number(stderr) if stderr not in (None, "N/A") else None,
                         "n": (n_samples.get(task_name) or {}).get("effective"),
                         "higher_is_better": (hib.get(task_name) or {}).get(metric)})
    return rows
