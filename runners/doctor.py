"""`gptoss-eval action=doctor`: a minute of probes that says whether a gpt-oss server would make a run meaningful.

The doctor sends a handful of short requests through the run's own client (same transport, model, sampling and
seed; any server mode) and prints one line per check, PASS / WARN / FAIL with the reason and the fix:

- effort: the level reaches the Harmony system message (where the server shows its rendered prompt: vLLM's
  ``return_token_ids`` on Chat Completions, ``enable_response_messages`` on Responses; the harmony transport
  renders it here), and low vs high reasoning lengths differ clearly (the only evidence a server that shows
  nothing leaves);
- the prompt's date is pinned (vLLM writes today's date unless ``VLLM_SYSTEM_START_DATE`` is set);
- reasoning and final come back apart: no channel markup and no analysis text in the final answer;
- a streamed reply carries the final channel as the whole reply does;
- a function tool call comes back parsed with JSON arguments, whole and streamed (where the server shows the
  model's raw tokens, a call the model wrote but the server dropped is told apart from a model that did not call);
- the built-in python tool is declared and its call parsed (suites that use it);
- the server's max model length holds the run's token budget;
- a fixed seed gives the same reply twice (WARN only);
- the vLLM and openai-harmony versions, as the run's manifest records them.

``doctor=true`` runs the same checks before a run (default: when the harness spawns the server) and stops
before any sampling when one fails. The doctor writes nothing into run stores.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from omegaconf import DictConfig, OmegaConf

from evals import harmony
from evals.clients import (
    TRANSPORTS,
    ModelClient,
    RequestFailed,
    RequestRejected,
    Sampling,
    ServerUnavailable,
    StreamReader,
    StreamTimer,
)
from evals.secrets import MissingKey, key_from_env
from evals.task import SingleTurnTask, Task
from evals.types import ModelOutput

PASS, WARN, FAIL = "PASS", "WARN", "FAIL"
# Room for a low-effort answer on a real model (and for high effort to show it reasons longer) while a
# GPU server answers every probe in seconds; the probes run concurrently.
PROBE_MAX_TOKENS = 2048
# A question any gpt-oss answers briefly, for suites whose samples are not single prompts.
FALLBACK_QUESTION = (
    "Find the remainder when $2^{10}$ is divided by $7$.\nPlease reason step by step, and put your "
    "final answer within \\boxed{}."
)
# "Clearly different" reasoning lengths: high at least this much longer than low, and by at least MIN_GAP tokens.
EFFORT_RATIO = 1.3
EFFORT_MIN_GAP = 8
_MARKUP = ("<|channel|>", "<|message|>", "<|start|>", "<|end|>", "<|constrain|>", "<|return|>", "<|call|>")
# What a server without a reasoning parser leaves in the content once special tokens are skipped.
_BARE_HEADERS = re.compile(r"(^analysis\S|assistant\s*(final|commentary|analysis)\b)")
FIX_REASONING = "start vLLM with --reasoning-parser openai_gptoss (server.reasoning_parser)"
FIX_TOOLS = "start vLLM with --tool-call-parser openai --enable-auto-tool-choice (server.tool_call_parser)"
FIX_EFFORT = (
    "use a vLLM release whose gpt-oss path reads reasoning_effort / reasoning.effort, or client=harmony "
    "(the harness renders the level itself)"
)
FIX_DATE = "start vLLM with VLLM_SYSTEM_START_DATE={date} (server.system_start_date; server=spawn sets it)"
FIX_LENGTH = "start vLLM with --max-model-len {budget} (model.max_model_len), or lower sampling.max_tokens"
FIX_SEED = (
    "per-request seeds need a vLLM that honours `seed`; for batch-independent results start vLLM with "
    "VLLM_BATCH_INVARIANT=1"
)
FIX_STREAM = "use a vLLM release that streams the final channel, or client.stream=false"


class DoctorFailed(Exception):
    """A check failed: nothing was sampled (the lines printed before say which and how to fix it)."""


@dataclass
class Check:
    name: str
    status: str
    reason: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.status} {self.name}: {self.reason}"
        return text + (f" Fix: {self.fix}." if self.fix and self.status != PASS else "")

    def to_dict(self) -> dict[str, str]:
        return {"check": self.name, "status": self.status, "reason": self.reason, "fix": self.fix}


@dataclass
class Probe:
    name: str
    messages: list[dict[str, Any]]
    effort: str
    stream: bool = False
    tools: list[dict[str, Any]] | None = None
    python_tool: bool = False


@dataclass
class Observed:
    """What the server showed besides the parsed reply: the prompt it rendered and the tokens the model wrote."""

    prompt_ids: list[int] | None = None
    completion_ids: list[int] = field(default_factory=list)
    input_messages: list[Any] | None = None
    output_messages: list[Any] | None = None

    def prompt_text(self) -> str | None:
        if self.prompt_ids:
            return harmony.encoding().decode(self.prompt_ids)
        if self.input_messages:
            return _render_messages(self.input_messages)
        return None

    def raw_output(self) -> ModelOutput | None:
        """The model's own channels, parsed from its tokens (None: the server did not show them)."""
        if self.completion_ids:
            return harmony.parse_completion_tokens(self.completion_ids)
        if self.output_messages:
            return _output_from_messages(self.output_messages)
        return None


@dataclass
class Result:
    probe: Probe
    output: ModelOutput | None = None
    error: str | None = None
    observed: Observed = field(default_factory=Observed)
    seconds: float = 0.0


def _render_messages(messages: list[Any]) -> str | None:
    import openai_harmony as oh

    try:
        conv = oh.Conversation.from_json(json.dumps({"messages": messages}))
        enc = harmony.encoding()
        return enc.decode(enc.render_conversation(conv))
    except Exception:  # another server's shape: search its JSON instead
        return json.dumps(messages)


def _output_from_messages(messages: list[Any]) -> ModelOutput:
    out = ModelOutput()
    finals, analysis = [], []
    for i, msg in enumerate(m for m in messages if isinstance(m, dict)):
        text = "".join(c.get("text", "") for c in msg.get("content") or [] if isinstance(c, dict))
        recipient = msg.get("recipient")
        if recipient and recipient != "assistant":
            from evals.types import ToolCall

            out.tool_calls.append(
                ToolCall(id=f"call_{i}", name=recipient.removeprefix("functions."), arguments=text)
            )
        elif msg.get("channel") == "analysis":
            analysis.append(text)
        elif msg.get("channel") == "final":
            finals.append(text)
    out.analysis = "\n".join(analysis)
    out.final = "\n".join(finals) if finals else None
    return out


# -- a client that also keeps what the server showed -------------------------------------------------------

# vLLM's own request fields that make it show the rendered prompt and the raw completion tokens; other servers
# ignore them (or refuse them: the probe is then sent again without).
_SHOW_FIELDS = {
    "/chat/completions": {"return_token_ids": True},
    "/responses": {"enable_response_messages": True},
    "/completions": {"return_token_ids": True},
}


class _RecordingReader(StreamReader):
    def __init__(self, inner: StreamReader, observed: Observed) -> None:
        self.inner, self.observed = inner, observed

    def feed(self, event: dict[str, Any], timer: StreamTimer) -> bool:
        if isinstance(event.get("prompt_token_ids"), list):
            self.observed.prompt_ids = event["prompt_token_ids"]
        for choice in event.get("choices") or []:
            if isinstance(choice, dict) and isinstance(choice.get("token_ids"), list):
                self.observed.completion_ids.extend(choice["token_ids"])
        response = event.get("response")
        if isinstance(response, dict) and event.get("type") in ("response.completed", "response.incomplete"):
            self.observed.input_messages = response.get("input_messages") or self.observed.input_messages
            self.observed.output_messages = response.get("output_messages") or self.observed.output_messages
        return self.inner.feed(event, timer)

    def result(self, usage: Any) -> ModelOutput:
        return self.inner.result(usage)


def _observing(cls: type[ModelClient]) -> type[ModelClient]:
    """``cls`` that asks the server to show its rendering and keeps it in ``self.observed`` (one request each)."""

    class Observing(cls):  # type: ignore[valid-type,misc]
        show = True

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.observed = Observed()

        async def _post(self, path: str, body: dict[str, Any], parse: Any = None, handler: Any = None) -> Any:
            if self.show:
                body = {**body, **_SHOW_FIELDS.get(path, {})}
            if path == "/completions" and isinstance(body.get("prompt"), list):
                self.observed.prompt_ids = list(body["prompt"])  # the harmony transport: our own rendering
            if parse is not None:
                inner = parse

                def parse(data: dict[str, Any]) -> Any:
                    self._keep(data)
                    return inner(data)

            return await super()._post(path, body, parse, handler)

        def _keep(self, data: dict[str, Any]) -> None:
            if isinstance(data.get("prompt_token_ids"), list):
                self.observed.prompt_ids = data["prompt_token_ids"]
            choices = data.get("choices")
            if isinstance(choices, list) and choices and isinstance(choices[0], dict):
                ids = choices[0].get("token_ids")
                if isinstance(ids, list):
                    self.observed.completion_ids = list(ids)
            if isinstance(data.get("input_messages"), list):
                self.observed.input_messages = data["input_messages"]
            if isinstance(data.get("output_messages"), list):
                self.observed.output_messages = data["output_messages"]

        async def _stream(
            self, path: str, body: dict[str, Any], reader: Callable[[], StreamReader]
        ) -> ModelOutput:
            def recording() -> StreamReader:  # every try starts from nothing seen
                prompt = self.observed.prompt_ids if path == "/completions" else None
                self.observed = Observed(prompt_ids=prompt)
                return _RecordingReader(reader(), self.observed)

            return await super()._stream(path, body, recording)

    Observing.__name__ = f"Observing{cls.__name__}"
    return Observing


# -- the doctor ---------------------------------------------------------------------------------------------


@dataclass
class Target:
    """Everything the probes need from the run's config."""

    transport: str
    urls: list[str]
    model: str
    max_model_len: int | None
    sampling: Sampling
    seed: int
    start_date: str | None
    stream_in_run: bool
    timeout_s: float
    max_retries: int
    retry_wait_s: float
    python_tool: bool
    messages: list[dict[str, Any]]
    prompt_source: str
    budget: int | None
    server_version: str | None = None
    # The server's key (server.api_key_env), sent like a run sends it; kept out of repr so no print shows it.
    api_key: str = field(default="EMPTY", repr=False)


def server_api_key(cfg: DictConfig) -> str:
    """The value of the variable ``server.api_key_env`` names ("EMPTY": none); DoctorFailed when it is unset."""
    try:
        return key_from_env(cfg.server.get("api_key_env"), "server.api_key_env", "the model server")
    except MissingKey as exc:
        raise DoctorFailed(str(exc)) from None


def target_from_config(
    cfg: DictConfig,
    urls: list[str],
    task: Task | None = None,
    samples: list[Any] | None = None,
    server_version: str | None = None,
) -> Target:
    """The probes' settings from a run's config: its transport, model, sampling, seed, suite and budget."""
    messages, source = probe_messages(task, samples)
    sampling = Sampling(**OmegaConf.to_container(cfg.sampling, resolve=True))
    max_model_len = cfg.model.get("max_model_len")
    budget = max_model_len
    if sampling.max_tokens is not None:  # the prompt and the answer budget
        budget = _prompt_tokens(messages) + int(sampling.max_tokens)
    context = task.max_context_tokens if task is not None else None  # agent suites: what an episode may fill
    if context is not None:
        budget = max(budget or 0, context)
    client = cfg.client
    return Target(
        transport=client.transport,
        urls=urls,
        model=cfg.model.served_name,
        max_model_len=max_model_len,
        sampling=sampling,
        seed=int(cfg.seed),
        start_date=cfg.server.get("system_start_date") or None,
        stream_in_run=bool(client.get("stream", False)),
        timeout_s=min(float(client.timeout_s), 600.0),
        max_retries=min(int(client.max_retries), 2),
        retry_wait_s=float(client.retry_wait_s),
        python_tool=task is not None and task.needs_python_tool,
        messages=messages,
        prompt_source=source,
        budget=budget,
        server_version=server_version,
        api_key=server_api_key(cfg),
    )


def probe_messages(task: Task | None, samples: list[Any] | None = None) -> tuple[list[dict[str, Any]], str]:
    """The suite's first prompt (what the run will send), else a short built-in question."""
    if isinstance(task, SingleTurnTask):
        try:
            samples = samples if samples is not None else task.load()
        except Exception as exc:  # no data here: the doctor still checks the server
            return [{"role": "user", "content": FALLBACK_QUESTION}], f"built-in question ({task.name}: {exc})"
        if samples:
            return task.prompt(samples[0]), f"{task.name} sample {samples[0].id}"
    return [{"role": "user", "content": FALLBACK_QUESTION}], "built-in question"


def _prompt_tokens(
    messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None, python_tool: bool = False
) -> int:
    return len(harmony.render_prompt(messages, "high", tools=tools, python_tool=python_tool))


def tool_case() -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
    """A question that needs a function tool: (messages, tools, the tool's name)."""
    from runners.tiny_model.script import TOOL_CASE, TOOL_NAME

    return [{"role": "user", "content": TOOL_CASE["user"]}], TOOL_CASE["tools"], TOOL_NAME


def probes(target: Target) -> list[Probe]:
    """The requests the doctor sends: low effort everywhere but the one high-effort probe (fast on any model)."""
    tool_messages, tools, _ = tool_case()
    main = dict(messages=target.messages, python_tool=target.python_tool)
    return [
        Probe("low", effort="low", **main),
        Probe("high", effort="high", **main),
        Probe("low again", effort="low", **main),
        Probe("low streamed", effort="low", stream=True, **main),
        Probe("tool", tool_messages, "low", tools=tools),
        Probe("tool streamed", tool_messages, "low", stream=True, tools=tools),
    ]


async def _send(target: Target, probe: Probe, url: str) -> Result:
    cls = _observing(TRANSPORTS[target.transport])
    prompt_len = _prompt_tokens(probe.messages, probe.tools, probe.python_tool)
    room = (target.max_model_len or 0) - prompt_len - 16
    max_tokens = min(PROBE_MAX_TOKENS, room) if target.max_model_len else PROBE_MAX_TOKENS
    sampling = Sampling(
        temperature=target.sampling.temperature, top_p=target.sampling.top_p, max_tokens=max(1, max_tokens)
    )
    kwargs = dict(
        base_url=url,
        model=target.model,
        max_model_len=target.max_model_len,
        timeout_s=target.timeout_s,
        max_retries=target.max_retries,
        retry_wait_s=target.retry_wait_s,
        max_connections=8,
        stream=probe.stream,
        api_key=target.api_key,
        **({"start_date": target.start_date} if target.start_date else {}),
    )
    if target.transport == "harmony":
        kwargs["python_tool"] = probe.python_tool
    result = Result(probe)
    started = time.monotonic()
    for show in (True, False):
        client = cls(**kwargs)
        client.show = show
        try:
            result.output = await client.generate(
                probe.messages, effort=probe.effort, sampling=sampling, seed=target.seed, tools=probe.tools
            )
            result.observed, result.error = client.observed, None
            break
        except RequestRejected as exc:  # maybe our show-me fields: once more without them
            result.error = f"refused: {exc}"
        except (RequestFailed, ServerUnavailable) as exc:
            result.error = str(exc)
            break
        finally:
            await client.aclose()
    result.seconds = time.monotonic() - started
    return result


async def _send_all(target: Target, plan: list[Probe]) -> list[Result]:
    return list(await asyncio.gather(*(_send(target, p, target.urls[0]) for p in plan)))


# -- the checks ---------------------------------------------------------------------------------------------


def _system_effort(prompt: str | None) -> str | None:
    if prompt is None:
        return None
    m = re.search(r"Reasoning: (low|medium|high)", prompt) or re.search(
        r'"reasoning_effort":\s*"(\w+)"', prompt
    )
    return m.group(1).lower() if m else "none"


def _system_date(prompt: str | None) -> str | None:
    if prompt is None:
        return None
    m = re.search(r"Current date: (\d{4}-\d{2}-\d{2})", prompt) or re.search(
        r'"conversation_start_date":\s*"(\d{4}-\d{2}-\d{2})"', prompt
    )
    return m.group(1) if m else "none"


def _reasoning_tokens(out: ModelOutput) -> int:
    return out.usage.reasoning_tokens or harmony.count_tokens(out.analysis)


def check_effort(low: Result, high: Result, transport: str) -> Check:
    name = "effort takes effect"
    failed = [r for r in (low, high) if r.output is None]
    if failed:
        return Check(name, FAIL, f"the {failed[0].probe.name}-effort probe got no reply ({failed[0].error})")
    assert low.output is not None and high.output is not None
    lo, hi = _reasoning_tokens(low.output), _reasoning_tokens(high.output)
    lengths = f"reasoning tokens low {lo} vs high {hi}"
    seen = (_system_effort(low.observed.prompt_text()), _system_effort(high.observed.prompt_text()))
    where = "the harness rendered" if transport == "harmony" else "the server rendered"
    if seen[0] is not None and seen[1] is not None:
        if seen == ("low", "high"):
            return Check(
                name, PASS, f"{where} 'Reasoning: low' / 'Reasoning: high' into the system message; {lengths}"
            )
        return Check(
            name,
            FAIL,
            f"effort=low / effort=high reached the system message as {seen[0]} / {seen[1]}: the "
            f"server ignores the requested effort ({lengths})",
            FIX_EFFORT,
        )
    hi_cut = high.output.finish_reason == "length"
    lo_cut = low.output.finish_reason == "length"
    if hi_cut and lo_cut:
        return Check(
            name,
            WARN,
            f"both probes reached max_tokens ({lengths}) and the server does not show its "
            f"rendered prompt: cannot tell",
            FIX_EFFORT,
        )
    if (hi_cut and not lo_cut) or (hi >= EFFORT_RATIO * lo and hi - lo >= EFFORT_MIN_GAP):
        return Check(name, PASS, f"{lengths}{' (high reached max_tokens)' if hi_cut else ''}")
    return Check(
        name,
        FAIL,
        f"{lengths}: high effort does not reason clearly longer, so the server likely ignores "
        f"the requested effort",
        FIX_EFFORT,
    )


def check_date(results: list[Result], transport: str, start_date: str | None) -> Check:
    name = "prompt date pinned"
    if transport == "harmony":
        return Check(name, PASS, f"the harness renders the date itself ({start_date or 'none'})")
    dates = {_system_date(r.observed.prompt_text()) for r in results if r.output is not None} - {None}
    if not dates:
        return Check(
            name,
            WARN,
            "the server does not show its rendered prompt, so its date cannot be read",
            FIX_DATE.format(date=start_date or "2026-01-01"),
        )
    today = {
        datetime.date.today().isoformat(),
        datetime.datetime.now(datetime.timezone.utc).date().isoformat(),
    }
    date = sorted(dates)[-1]
    if date in today and date != start_date:
        return Check(
            name,
            FAIL,
            f"the server writes today's date ({date}) into every prompt, so prompts change from day to day",
            FIX_DATE.format(date=start_date or "2026-01-01"),
        )
    if start_date and date != start_date:
        return Check(
            name,
            WARN,
            f"the server renders {date}, the config says server.system_start_date={start_date}",
            f"set server.system_start_date={date}, or start vLLM with VLLM_SYSTEM_START_DATE={start_date}",
        )
    return Check(name, PASS, f"the server renders Current date: {date}")


def _leak(out: ModelOutput, raw: ModelOutput | None) -> str | None:
    """Why this reply's final answer holds reasoning or markup (None: it does not)."""
    final = out.final or ""
    for token in _MARKUP:
        if token in final:
            return f"the final answer holds Harmony markup ({token})"
    if _BARE_HEADERS.search(final):
        return f"the final answer holds channel headers: {final[:60]!r}"
    analysis = (raw.analysis if raw is not None else "") or ""
    snippet = analysis.strip()[:80]
    if len(snippet) >= 12 and snippet in final:
        return f"the final answer repeats the reasoning ({snippet[:40]!r}...)"
    if raw is not None and raw.analysis.strip() and not out.analysis.strip():
        return "the model reasoned but no reasoning came back apart from the answer"
    return None


def check_separation(results: list[Result]) -> Check:
    name = "reasoning and final separated"
    answered = [r for r in results if r.output is not None]
    if not answered:
        return Check(name, FAIL, "no probe got a reply")
    for r in answered:
        assert r.output is not None
        why = _leak(r.output, r.observed.raw_output())
        if why:
            return Check(name, FAIL, f"{why} ({r.probe.name} probe)", FIX_REASONING)
    finals = [r for r in answered if r.output and r.output.final]
    reasoned = [r for r in answered if r.output and r.output.analysis.strip()]
    if finals and not reasoned:
        return Check(
            name,
            FAIL,
            "answers came back without any reasoning: it is missing or mixed into the answer",
            FIX_REASONING,
        )
    return Check(
        name,
        PASS,
        f"reasoning came back apart on {len(reasoned)} of {len(answered)} replies; no markup or "
        f"reasoning in {len(finals)} final answers",
    )


def check_stream(whole: Result, streamed: Result, stream_in_run: bool) -> Check:
    name = "stream carries the final channel"
    bad = FAIL if stream_in_run else WARN
    if streamed.output is None:
        return Check(
            name,
            bad,
            f"the streamed probe failed: {streamed.error}"
            + ("" if stream_in_run else " (this run does not stream)"),
            FIX_STREAM,
        )
    if whole.output is None:
        return Check(name, WARN, f"no whole reply to compare with ({whole.error})")
    w, s = whole.output, streamed.output
    if w.final is not None and s.final is None and not s.tool_calls:
        return Check(
            name,
            bad,
            f"the whole reply has a final answer, the streamed one ended without it "
            f"(finish_reason={s.finish_reason})",
            FIX_STREAM,
        )
    if w.tool_calls and not s.tool_calls:
        return Check(name, bad, "the whole reply calls a tool, the streamed one does not", FIX_STREAM)
    kind = "a final answer" if s.final is not None else ("a tool call" if s.tool_calls else "no final answer")
    return Check(name, PASS, f"streamed and whole replies both end with {kind}")


def _call_problem(r: Result, tool: str) -> str | None:
    out = r.output
    if out is None:
        return f"no reply ({r.error})"
    calls = [c for c in out.tool_calls if c.name == tool]
    if not calls:
        return "no call"
    try:
        args = json.loads(calls[0].arguments)
    except ValueError:
        return f"arguments are not JSON: {calls[0].arguments[:80]!r}"
    if not isinstance(args, dict):
        return f"arguments are not a JSON object: {calls[0].arguments[:80]!r}"
    return None


def check_tool_call(whole: Result, streamed: Result) -> Check:
    name = "function tool call round-trips"
    _, _, tool = tool_case()
    problems = {r.probe.name: _call_problem(r, tool) for r in (whole, streamed)}
    if not any(problems.values()):
        assert whole.output is not None
        return Check(
            name, PASS, f"{tool}({whole.output.tool_calls[0].arguments}) came back parsed, whole and streamed"
        )
    r = next(r for r in (whole, streamed) if problems[r.probe.name])
    problem = problems[r.probe.name]
    if problem != "no call":
        return Check(name, FAIL, f"{r.probe.name} probe: {problem}", FIX_TOOLS)
    raw = r.observed.raw_output()
    if raw is not None and any(c.name == tool for c in raw.tool_calls):
        return Check(
            name,
            FAIL,
            f"the model called {tool} but the {r.probe.name} reply has no tool call: the server dropped it",
            FIX_TOOLS,
        )
    if raw is not None:
        return Check(
            name,
            WARN,
            f"the model answered the {r.probe.name} probe without calling {tool}, so the "
            f"server's tool parsing went untested",
        )
    return Check(
        name,
        FAIL,
        f"the {r.probe.name} reply has no tool call for a question that needs {tool}: the "
        f"server drops tool calls or the model did not call",
        FIX_TOOLS,
    )


def check_python_tool(main: Result, transport: str) -> Check:
    name = "python tool offered and parsed"
    if transport != "harmony":
        return Check(
            name,
            FAIL,
            f"the suite gives the model the built-in python tool, which only the harmony "
            f"transport declares (configured: {transport})",
            "add client=harmony",
        )
    prompt = main.observed.prompt_text() or ""
    if "## python" not in prompt:
        return Check(
            name,
            FAIL,
            "the rendered system message does not declare the python tool",
            "check the installed openai-harmony (the harness renders the python tool with it)",
        )
    if main.output is None:
        return Check(name, FAIL, f"declared in the system message; the probe got no reply ({main.error})")
    code = next((c.arguments for c in main.output.tool_calls if c.name == "python"), None)
    if code is not None:
        return Check(
            name, PASS, f"declared in the system message; the model's call came back parsed ({code[:40]!r})"
        )
    return Check(
        name, WARN, "declared in the system message; the model answered the probe without calling it"
    )


def server_max_model_len(url: str, model: str, api_key: str = "EMPTY") -> int | None:
    """``max_model_len`` of ``model`` from ``GET /v1/models`` (vLLM reports it; None: not reported)."""
    headers = {"Authorization": f"Bearer {api_key}"}  # a server started with --api-key guards /v1/models too
    try:
        data = httpx.get(url.rstrip("/") + "/models", headers=headers, timeout=10.0).json().get("data") or []
    except (httpx.HTTPError, ValueError, AttributeError):
        return None
    cards = [d for d in data if isinstance(d, dict)]
    card = next((d for d in cards if d.get("id") == model), cards[0] if cards else None)
    value = card.get("max_model_len") if card else None
    return int(value) if isinstance(value, int) else None


def check_max_len(server_len: int | None, budget: int | None) -> Check:
    name = "max model length"
    if server_len is None:
        return Check(name, WARN, "the server does not report max_model_len on /v1/models; answers may be cut")
    if budget is None:
        return Check(name, PASS, f"the server holds {server_len:,} tokens")
    if server_len < budget:
        return Check(
            name,
            WARN,
            f"the server holds {server_len:,} tokens, the run's budget is {budget:,}: longer "
            f"answers are cut (stored as truncated, scored 0)",
            FIX_LENGTH.format(budget=budget),
        )
    return Check(name, PASS, f"the server holds {server_len:,} tokens, the run's budget is {budget:,}")


def _same(a: ModelOutput, b: ModelOutput) -> bool:
    calls = lambda o: [(c.name, c.arguments) for c in o.tool_calls]  # noqa: E731
    return (a.analysis, a.final, calls(a)) == (b.analysis, b.final, calls(b))


def check_determinism(first: Result, again: Result) -> Check:
    name = "fixed seed reproduces"
    if first.output is None or again.output is None:
        return Check(name, WARN, "a probe got no reply, so this went untested")
    if _same(first.output, again.output):
        return Check(name, PASS, "the same seed gave the same reply twice")
    return Check(
        name,
        WARN,
        "the same request and seed gave two different replies: reruns will not reproduce samples one for one",
        FIX_SEED,
    )


def check_versions(server_version: str | None) -> Check:
    from runners.versions import versions

    mine = versions()
    harmony_version = mine.get("openai-harmony", "not installed")
    if server_version is None:
        return Check(
            "versions",
            WARN,
            f"the server does not report its version on /version (the manifest records "
            f"vllm_server: none); openai-harmony {harmony_version}",
        )
    return Check(
        "versions",
        PASS,
        f"vLLM {server_version} (server), openai-harmony {harmony_version} (harness), as "
        f"the run's manifest records them",
    )


def diagnose(target: Target) -> tuple[list[Check], list[Result]]:
    """Send the probes, run every check; (checks in print order, probe results)."""
    plan = probes(target)
    results = asyncio.run(_send_all(target, plan))
    by = {r.probe.name: r for r in results}
    checks = [
        check_effort(by["low"], by["high"], target.transport),
        check_date(results, target.transport, target.start_date),
        check_separation([by[n] for n in ("low", "low again", "low streamed", "tool", "tool streamed")]),
        check_stream(by["low"], by["low streamed"], target.stream_in_run),
        check_tool_call(by["tool"], by["tool streamed"]),
    ]
    if target.python_tool:
        checks.append(check_python_tool(by["low"], target.transport))
    checks += [
        check_max_len(server_max_model_len(target.urls[0], target.model, target.api_key), target.budget),
        check_determinism(by["low"], by["low again"]),
        check_versions(target.server_version),
    ]
    return checks, results


def report(checks: list[Check], target: Target, seconds: float, out: Any = None) -> None:
    out = out or sys.stdout
    print(
        f"gptoss-eval doctor: {target.transport} transport, {target.urls[0]}, model {target.model}; probes: "
        f"{target.prompt_source} and a function-tool question",
        file=out,
    )
    for c in checks:
        print(c.line(), file=out)
    counts = {s: sum(c.status == s for c in checks) for s in (PASS, WARN, FAIL)}
    print(
        f"doctor: {counts[PASS]} passed, {counts[WARN]} warnings, {counts[FAIL]} failed ({seconds:.1f} s)",
        file=out,
        flush=True,
    )


# -- entry points -------------------------------------------------------------------------------------------

_checked: dict[
    tuple[Any, ...], list[Check]
] = {}  # a -m sweep checks its shared server once per suite/transport


def enabled(cfg: DictConfig) -> bool:
    """``doctor``: true / false, or null (the default): on when the harness spawns the server."""
    value = cfg.get("doctor")
    return cfg.server.mode == "spawn" if value is None else bool(value)


def before_run(
    cfg: DictConfig, task: Task | None, samples: list[Any], urls: list[str], server_version: str | None
) -> list[dict[str, str]]:
    """The checks before sampling; raises :class:`DoctorFailed` after printing when one fails."""
    target = target_from_config(cfg, urls, task, samples, server_version)
    key = (tuple(urls), target.transport, target.python_tool, json.dumps(target.messages), target.budget)
    checks = _checked.get(key)
    if checks is None:
        started = time.monotonic()
        checks, _ = diagnose(target)
        report(checks, target, time.monotonic() - started)
        _checked[key] = checks
    failed = [c for c in checks if c.status == FAIL]
    if failed:
        raise DoctorFailed(
            f"{len(failed)} server check(s) failed ({', '.join(c.name for c in failed)}); nothing was "
            f"sampled. Fix the server as the lines above say, or run with doctor=false"
        )
    return [c.to_dict() for c in checks]


def run_action(cfg: DictConfig, task: Task | None) -> None:
    """``action=doctor``: probes only (spawning the server first with server=spawn); DoctorFailed on a FAIL."""
    import shutil
    import tempfile

    from runners import serving

    server_api_key(cfg)  # an unset key variable stops here, before a server is started
    logs = Path(
        tempfile.mkdtemp(prefix="gptoss-doctor-")
    )  # a spawned server's log; never the run's directory
    ok = False
    try:
        with serving.endpoint(cfg, logs) as ep:
            target = target_from_config(cfg, ep["base_url"], task, None, ep.get("server_version"))
            started = time.monotonic()
            checks, _ = diagnose(target)
            report(checks, target, time.monotonic() - started)
        failed = [c for c in checks if c.status == FAIL]
        if failed:
            raise DoctorFailed(f"{len(failed)} server check(s) failed: {', '.join(c.name for c in failed)}")
        ok = True
    finally:
        if ok or not any(logs.iterdir()):
            shutil.rmtree(logs, ignore_errors=True)
        else:
            print(f"doctor: server log kept in {logs}", file=sys.stderr)


def requested(argv: list[str]) -> bool:
    return "action=doctor" in argv


# Hydra writes .hydra/ and a log file into the run's directory before the job starts; the doctor writes nothing.
HYDRA_QUIET = ["hydra.output_subdir=null", "hydra/job_logging=disabled", "hydra.run.dir=.", "hydra.mode=RUN"]
