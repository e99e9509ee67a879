"""Requests in flight from the server's batch size, and what a vLLM-shaped /metrics says about its KV cache."""

from __future__ import annotations

import asyncio

import httpx

from runners.capacity import (
    FALLBACK_CONCURRENCY,
    VLLM_DEFAULT_MAX_NUM_SEQS,
    max_num_seqs_from_argv,
    parse_cache_config,
    pick_concurrency,
    read_server_limits,
    resolve_concurrency,
    vllm_default_max_num_seqs,
)
from tests.conftest import ScriptedServerProcess

# The line as vLLM 0.1x publishes it (labels in its order; values strings; "None" before memory profiling)
VLLM_LINE = ('vllm:cache_config_info{block_size="16",cache_dtype="auto",calculate_kv_scales="False",'
             'enable_prefix_caching="True",gpu_memory_utilization="0.9",is_attention_free="False",'
             'num_cpu_blocks="None",num_gpu_blocks="2874",num_gpu_blocks_override="None",'
             'prefix_caching_hash_algo="builtin",sliding_window="None",swap_space="4",'
             'swap_space_bytes="4294967296"} 1.0\n')


def test_cache_config_labels_are_read_as_numbers_and_the_rest_skipped() -> None:
    cache = parse_cache_config("# HELP x\nvllm:num_requests_running{model_name=\"m\"} 3.0\n" + VLLM_LINE)
    assert cache["num_gpu_blocks"] == 2874 and cache["block_size"] == 16
    assert "cache_dtype" not in cache and "num_cpu_blocks" not in cache  # "auto", "None"
    assert parse_cache_config("vllm:num_requests_running 0\n") == {}


def test_batch_size_plus_a_refill_margin_per_replica_never_a_fixed_64() -> None:
    assert pick_concurrency(1024)["concurrency"] == 1280
    assert pick_concurrency(8, replicas=2)["concurrency"] == 20
    default = pick_concurrency(None)
    assert default["max_num_seqs"] == VLLM_DEFAULT_MAX_NUM_SEQS and default["max_num_seqs_source"] == "vLLM default"
    assert default["concurrency"] == 320


def test_limits_from_a_running_server_and_none_from_a_server_without_metrics(tmp_path) -> None:
    srv = ScriptedServerProcess({"faults": {"capacity": 4, "latency_s": 3.0},
                                 "server": {"num_gpu_blocks": 100, "block_size": 16}}, tmp_path).start()
    try:
        root = srv.base_url.removesuffix("/v1")
        assert read_server_limits(root) == {"kv_cache_tokens": 1600}

        async def load() -> None:  # 6 requests on 4 slots: the server's own gauges show a full batch and a queue
            async with httpx.AsyncClient(timeout=30) as http:
                sends = [http.post(srv.base_url + "/chat/completions", json={
                    "model": "m", "messages": [{"role": "user", "content": "hi"}]}) for _ in range(6)]
                tasks = [asyncio.ensure_future(s) for s in sends]
                texts = []
                for _ in range(200):  # until all six have arrived (a loaded machine delays them), at most 20 s
                    await asyncio.sleep(0.1)
                    texts.append((await http.get(root + "/metrics")).text)
                    if 'waiting{model_name="scripted"} 2' in texts[-1]:
                        break
                assert 'vllm:num_requests_running{model_name="scripted"} 4' in texts[-1]
                assert 'vllm:num_requests_waiting{model_name="scripted"} 2' in texts[-1]
                await asyncio.gather(*tasks)

        asyncio.run(load())
    finally:
        srv.stop()
    assert read_server_limits(root) == {}  # nothing answers any more


def test_max_num_seqs_is_read_from_a_server_command_in_either_spelling() -> None:
    assert max_num_seqs_from_argv(["vllm", "--max-num-seqs", "48", "--port", "1"]) == 48
    assert max_num_seqs_from_argv(["--max-num-seqs=12"]) == 12
    assert max_num_seqs_from_argv(["--max-num-seqs"]) is None  # no value: not guessed
    assert max_num_seqs_from_argv(None) is None


def test_auto_concurrency_says_where_its_number_came_from(tmp_path) -> None:
    assert resolve_concurrency(24, []) == {"concurrency": 24, "source": "config"}
    nothing = "http://127.0.0.1:9/v1"  # nobody listens: no limits published
    fallback = resolve_concurrency("auto", [nothing])
    assert fallback["concurrency"] == FALLBACK_CONCURRENCY and "publishes no limits" in fallback["source"]
    started = resolve_concurrency("auto", [nothing, nothing], ["--max-num-seqs", "8"])
    assert started["concurrency"] == 20 and "--max-num-seqs" in started["source"]  # 8 x 1.25, two replicas
    cpu = resolve_concurrency("auto", [nothing], ["--port", "1"], device="cpu")
    assert cpu["max_num_seqs"] == 128 and cpu["concurrency"] == 160 and "CPU" in cpu["source"]
    gpu = resolve_concurrency("auto", [nothing], ["--port", "1"], device="cuda")
    assert gpu["max_num_seqs"] in (256, 1024) and "GPU" in gpu["source"]  # 1024 on this machine's big GPU
    srv = ScriptedServerProcess({"server": {"num_gpu_blocks": 10, "block_size": 16}}, tmp_path).start()
    try:
        attached = resolve_concurrency("auto", [srv.base_url])
    finally:
        srv.stop()
    assert attached["concurrency"] == 320 and attached["server_limits"] == {"kv_cache_tokens": 160}


def test_vllms_default_batch_follows_its_device_rule() -> None:
    assert vllm_default_max_num_seqs("cpu") == 128
    assert vllm_default_max_num_seqs("cuda", [("NVIDIA H100 80GB HBM3", 79.6)] * 8) == 1024
    assert vllm_default_max_num_seqs("cuda", [("NVIDIA A100-SXM4-80GB", 80.0)]) == 256  # vLLM's A100 exception
    assert vllm_default_max_num_seqs("cuda", [("NVIDIA B200", 179.0)]) == 1024
    assert vllm_default_max_num_seqs("cuda", [("NVIDIA L4", 22.5)]) == 256
    assert vllm_default_max_num_seqs("cuda", []) == 256  # no GPU to ask
