"""Tool semantics, dispatcher errors (spec sections 3-4) and the incremental DB hash (section 6)."""

from __future__ import annotations

import inspect
import json
import random
from typing import Any

import pytest

from tasks.tau_retail import TOOLS, RetailDB, RetailEnv, canonical_hash, invoke_tool
from tasks.tau_retail.data import DB_SECTIONS, copy_json

ORDER_DELIVERED = "#W2378156"  # yusuf_rossi_9620, delivered


def _pending_order(env: RetailEnv, *, gift_card: bool = False) -> str:
    for oid, o in env.db.orders.items():
        if o["status"] == "pending" and len(o["payment_history"]) == 1:
            if not gift_card or "gift_card" in o["payment_history"][0]["payment_method_id"]:
                return oid
    raise AssertionError


# -- schema / signature consistency ------------------------------------------------------------


def test_tool_signatures_match_schema(env: RetailEnv) -> None:
    schema = env.tools_schema
    assert [s["function"]["name"] for s in schema] == list(TOOLS)
    for s in schema:
        fn = s["function"]
        params = list(inspect.signature(TOOLS[fn["name"]].invoke).parameters)
        assert params[0] == "data"
        assert params[1:] == list(fn["parameters"]["properties"]) == fn["parameters"]["required"]


def test_policy_and_user_sim(env: RetailEnv, data_dir) -> None:
    assert env.policy == (data_dir / "wiki.md").read_text(encoding="utf-8")
    assert env.policy.startswith("# Retail agent policy")
    task = env.reset(3)
    prompt = env.user_sim_system_prompt()
    assert prompt.startswith(
        "You are a user interacting with an agent.\n\nInstruction: " + task.instruction + "\n\nRules:\n"
    )
    assert "{instruction_display}" not in prompt
    msgs = env.user_sim_messages()
    assert msgs[0] == {"role": "system", "content": prompt}
    assert msgs[1] == {"role": "user", "content": "Hi! How can I help you today?"}
    assert env.stop_token == "###STOP###"


# -- dispatcher-level behaviour --------------------------------------------------------------


def test_unknown_tool(env: RetailEnv) -> None:
    env.reset(0)
    h = env.db_hash()
    assert env.step_tool("delete_everything", {"x": 1}) == "Unknown action delete_everything"
    assert env.tool_log[-1].status == "unknown_tool"
    assert not env.done and env.db_hash() == h


def test_wrong_argument_names(env: RetailEnv) -> None:
    env.reset(0)
    obs = env.step_tool("get_order_details", {"order_id": ORDER_DELIVERED, "foo": 1})
    assert obs == "Error: GetOrderDetails.invoke() got an unexpected keyword argument 'foo'"
    assert env.tool_log[-1].status == "bad_arguments"
    obs = env.step_tool(
        "modify_user_address",
        {"address1": "a", "address2": "", "city": "c", "state": "s", "country": "x", "zip": "1"},
    )
    assert obs == "Error: ModifyUserAddress.invoke() missing 1 required positional argument: 'user_id'"
    obs = env.step_tool("cancel_pending_order", {})
    assert (
        obs
        == "Error: CancelPendingOrder.invoke() missing 2 required positional arguments: 'order_id' and 'reason'"
    )
    obs = env.step_tool("think", {"thought": "hm", "data": 1})
    assert (
        obs.startswith("Error: ") and "Think.invoke() got multiple values for keyword argument 'data'" in obs
    )
    assert not env.done


def test_wrong_types_surface_raw_python_errors(env: RetailEnv) -> None:
    env.reset(0)
    h = env.db_hash()
    assert env.step_tool("find_user_id_by_name_zip", {"first_name": 1, "last_name": "x", "zip": "1"}) == (
        "Error: 'int' object has no attribute 'lower'"
    )
    assert env.step_tool("get_order_details", {"order_id": ["#W2378156"]}) == "Error: unhashable type: 'list'"
    # a string item_ids is iterated character by character
    obs = env.step_tool(
        "return_delivered_order_items",
        {"order_id": ORDER_DELIVERED, "item_ids": "1151293680", "payment_method_id": "credit_card_9513926"},
    )
    assert obs == "Error: some item not found"
    obs = env.step_tool(
        "exchange_delivered_order_items",
        {
            "order_id": ORDER_DELIVERED,
            "item_ids": "1151293680",
            "new_item_ids": "x",
            "payment_method_id": "p",
        },
    )
    assert obs == "Error: 1 not found"
    assert env.step_tool("calculate", {"expression": 5}) == "Error: 'int' object is not iterable"
    assert env.db_hash() == h


# -- individual tools ------------------------------------------------------------------------


def test_calculate(env: RetailEnv) -> None:
    env.reset(0)
    c = lambda e: env.step_tool("calculate", {"expression": e})  # noqa: E731
    assert c("2 + 2") == "4.0"
    assert c("10 / 3") == "3.33"
    assert c("2**3") == "8.0"
    assert c("1 / 0") == "Error: division by zero"
    assert c("abs(1)") == "Error: invalid characters in expression"
    assert c("(1+2").startswith("Error: ")


def test_reads(env: RetailEnv) -> None:
    env.reset(0)
    assert (
        env.step_tool(
            "find_user_id_by_name_zip", {"first_name": "yusuf", "last_name": "ROSSI", "zip": "19122"}
        )
        == "yusuf_rossi_9620"
    )
    assert (
        env.step_tool(
            "find_user_id_by_name_zip", {"first_name": "Yusuf", "last_name": "Rossi", "zip": "19123"}
        )
        == "Error: user not found"
    )
    email = env.db.users["yusuf_rossi_9620"]["email"]
    assert env.step_tool("find_user_id_by_email", {"email": email.upper()}) == "yusuf_rossi_9620"
    assert env.step_tool("find_user_id_by_email", {"email": "nobody@example.com"}) == "Error: user not found"
    order = env.step_tool("get_order_details", {"order_id": ORDER_DELIVERED})
    assert order == json.dumps(env.db.orders[ORDER_DELIVERED]) and order.startswith(
        '{"order_id": "#W2378156", '
    )
    assert env.step_tool("get_order_details", {"order_id": "W2378156"}) == "Error: order not found"
    assert env.step_tool("get_product_details", {"product_id": "0"}) == "Error: product not found"
    assert env.step_tool("get_user_details", {"user_id": "Yusuf_rossi_9620"}) == "Error: user not found"
    types = json.loads(env.step_tool("list_all_product_types", {}))
    assert len(types) == 50 and list(types) == sorted(types)
    assert env.step_tool("think", {"thought": "x"}) == ""
    assert all(r.status == "ok" or r.observation.startswith("Error") for r in env.tool_log)


def test_cancel_checks_and_gift_card_refund(env: RetailEnv) -> None:
    env.reset(0)
    oid = _pending_order(env, gift_card=True)
    order = env.db.orders[oid]
    user = order["user_id"]
    card_id = order["payment_history"][0]["payment_method_id"]
    amount = order["payment_history"][0]["amount"]
    bal = env.db.users[user]["payment_methods"][card_id]["balance"]
    assert (
        env.step_tool("cancel_pending_order", {"order_id": "#W0", "reason": "x"}) == "Error: order not found"
    )
    assert env.step_tool("cancel_pending_order", {"order_id": ORDER_DELIVERED, "reason": "x"}) == (
        "Error: non-pending order cannot be cancelled"
    )
    h0 = env.db_hash()
    assert (
        env.step_tool("cancel_pending_order", {"order_id": oid, "reason": "other"}) == "Error: invalid reason"
    )
    assert env.db_hash() == h0
    out = json.loads(env.step_tool("cancel_pending_order", {"order_id": oid, "reason": "no longer needed"}))
    assert out["status"] == "cancelled" and out["cancel_reason"] == "no longer needed"
    assert out["payment_history"][-1] == {
        "transaction_type": "refund",
        "amount": amount,
        "payment_method_id": card_id,
    }
    assert env.db.users[user]["payment_methods"][card_id]["balance"] == round(bal + amount, 2)
    assert list(out)[-1] == "cancel_reason"
    assert env.step_tool("cancel_pending_order", {"order_id": oid, "reason": "no longer needed"}) == (
        "Error: non-pending order cannot be cancelled"
    )


def test_modify_items_then_locked(env: RetailEnv, data) -> None:
    env.reset(0)

    # find a pending order whose first item has another available variant
    def alternatives(o: dict[str, Any]) -> list[dict[str, Any]]:
        it = o["items"][0]
        variants = data.products[it["product_id"]]["variants"].values()
        return [v for v in variants if v["available"] and v["item_id"] != it["item_id"]]

    oid, o = next((k, v) for k, v in env.db.orders.items() if v["status"] == "pending" and alternatives(v))
    it, alts = o["items"][0], alternatives(o)
    pm = o["payment_history"][0]["payment_method_id"]
    new = alts[0]
    assert (
        env.step_tool(
            "modify_pending_order_items",
            {"order_id": oid, "item_ids": [it["item_id"]], "new_item_ids": [], "payment_method_id": pm},
        )
        == "Error: the number of items to be exchanged should match"
    )
    assert (
        env.step_tool(
            "modify_pending_order_items",
            {"order_id": oid, "item_ids": ["123"], "new_item_ids": ["1"], "payment_method_id": pm},
        )
        == "Error: 123 not found"
    )
    assert (
        env.step_tool(
            "modify_pending_order_items",
            {"order_id": oid, "item_ids": [it["item_id"]], "new_item_ids": ["1"], "payment_method_id": pm},
        )
        == "Error: new item 1 not found or available"
    )
    assert (
        env.step_tool(
            "modify_pending_order_items",
            {
                "order_id": oid,
                "item_ids": [it["item_id"]],
                "new_item_ids": [new["item_id"]],
                "payment_method_id": "paypal_0",
            },
        )
        == "Error: payment method not found"
    )
    out = json.loads(
        env.step_tool(
            "modify_pending_order_items",
            {
                "order_id": oid,
                "item_ids": [it["item_id"]],
                "new_item_ids": [new["item_id"]],
                "payment_method_id": pm,
            },
        )
    )
    diff = new["price"] - it["price"]
    assert out["status"] == "pending (item modified)"
    assert out["payment_history"][-1]["amount"] == abs(diff)  # not rounded
    assert out["items"][0]["item_id"] == new["item_id"] and out["items"][0]["options"] == new["options"]
    for tool, args in [
        ("modify_pending_order_payment", {"order_id": oid, "payment_method_id": pm}),
        ("cancel_pending_order", {"order_id": oid, "reason": "ordered by mistake"}),
    ]:
        assert env.step_tool(tool, args).startswith("Error: non-pending order cannot be")


def test_modify_payment_errors(env: RetailEnv) -> None:
    env.reset(0)
    oid = _pending_order(env)
    pm = env.db.orders[oid]["payment_history"][0]["payment_method_id"]
    assert env.step_tool("modify_pending_order_payment", {"order_id": oid, "payment_method_id": pm}) == (
        "Error: the new payment method should be different from the current one"
    )
    assert env.step_tool(
        "modify_pending_order_payment", {"order_id": oid, "payment_method_id": "gift_card_0"}
    ) == ("Error: payment method not found")


def test_return_payment_rule(env: RetailEnv) -> None:
    env.reset(0)
    o = env.db.orders[ORDER_DELIVERED]
    user = env.db.users[o["user_id"]]
    other = [
        p
        for p in user["payment_methods"]
        if "gift_card" not in p and p != o["payment_history"][0]["payment_method_id"]
    ]
    if other:
        assert (
            env.step_tool(
                "return_delivered_order_items",
                {
                    "order_id": ORDER_DELIVERED,
                    "item_ids": [o["items"][0]["item_id"]],
                    "payment_method_id": other[0],
                },
            )
            == "Error: payment method should be either the original payment method or a gift card"
        )
    ids = [o["items"][1]["item_id"], o["items"][0]["item_id"]]
    out = json.loads(
        env.step_tool(
            "return_delivered_order_items",
            {
                "order_id": ORDER_DELIVERED,
                "item_ids": ids,
                "payment_method_id": o["payment_history"][0]["payment_method_id"],
            },
        )
    )
    assert out["status"] == "return requested" and out["return_items"] == sorted(ids)


# -- incremental hash == full canonical hash ------------------------------------------------


class _PlainDB(RetailDB):
    """Reference DB: full deep copy, writes in place, hash from scratch (no caching)."""

    def __init__(self, base) -> None:  # noqa: D107
        super().__init__(base)
        self.orders = copy_json(base.orders)
        self.users = copy_json(base.users)

    def _for_write(self, section, table, key):  # type: ignore[override]
        return table[key]

    def hash(self) -> str:
        return canonical_hash({s: self[s] for s in DB_SECTIONS})


def _random_calls(data, rng: random.Random, n: int) -> list[tuple[str, dict[str, Any]]]:
    order_ids = list(data.orders)
    user_ids = list(data.users)
    calls: list[tuple[str, dict[str, Any]]] = []
    for _ in range(n):
        oid = rng.choice(order_ids + ["#W0000000"])
        o = data.orders.get(oid) or data.orders[order_ids[0]]
        uid = o["user_id"]
        pms = list(data.users[uid]["payment_methods"]) + ["gift_card_0000000"]
        items = [it["item_id"] for it in o["items"]]
        k = rng.randint(0, len(items))
        old = rng.sample(items, k) if rng.random() < 0.9 else items[:1] * 2
        new = []
        for x in old:
            prod = next(it["product_id"] for it in o["items"] if it["item_id"] == x)
            new.append(rng.choice(list(data.products[prod]["variants"])))
        addr = {
            "address1": "1 A St",
            "address2": "",
            "city": "B",
            "state": "C",
            "country": "USA",
            "zip": str(rng.randint(10000, 99999)),
        }
        name = rng.choice(list(TOOLS))
        args: dict[str, Any] = {
            "calculate": {"expression": f"{rng.randint(1, 9)} * {rng.random():.3f}"},
            "cancel_pending_order": {
                "order_id": oid,
                "reason": rng.choice(["no longer needed", "ordered by mistake", "x"]),
            },
            "exchange_delivered_order_items": {
                "order_id": oid,
                "item_ids": old,
                "new_item_ids": new,
                "payment_method_id": rng.choice(pms),
            },
            "find_user_id_by_email": {"email": data.users[uid]["email"]},
            "find_user_id_by_name_zip": {"first_name": "a", "last_name": "b", "zip": "1"},
            "get_order_details": {"order_id": oid},
            "get_product_details": {"product_id": o["items"][0]["product_id"]},
            "get_user_details": {"user_id": uid},
            "list_all_product_types": {},
            "modify_pending_order_address": {"order_id": oid, **addr},
            "modify_pending_order_items": {
                "order_id": oid,
                "item_ids": old,
                "new_item_ids": new,
                "payment_method_id": rng.choice(pms),
            },
            "modify_pending_order_payment": {"order_id": oid, "payment_method_id": rng.choice(pms)},
            "modify_user_address": {"user_id": rng.choice(user_ids + ["nobody"]), **addr},
            "return_delivered_order_items": {
                "order_id": oid,
                "item_ids": old,
                "payment_method_id": rng.choice(pms),
            },
            "think": {"thought": "t"},
            "transfer_to_human_agents": {"summary": "s"},
        }[name]
        calls.append((name, args))
    return calls


def test_incremental_hash_equals_full_hash_under_fuzz(data) -> None:
    rng = random.Random(1234)
    writes_ok = 0
    for episode in range(10):
        fast, ref = RetailDB(data), _PlainDB(data)
        checkpoints = set(rng.sample(range(50), 2))
        for step, (name, args) in enumerate(_random_calls(data, rng, 50)):
            o1 = invoke_tool(fast, name, copy_json(args))
            o2 = invoke_tool(ref, name, copy_json(args))
            assert o1 == o2, (episode, name, args)
            writes_ok += name in ("cancel_pending_order", "modify_pending_order_items") and not o1.startswith(
                "Error"
            )
            if step in checkpoints:
                assert fast.hash() == ref.hash(), (episode, name, args)
        assert fast.hash() == ref.hash()
    assert writes_ok > 5
    # the pristine data is never modified by copy-on-write episodes
    assert canonical_hash({s: getattr(data, s) for s in DB_SECTIONS}) == data.initial_hash


def test_reset_gives_fresh_db(env: RetailEnv) -> None:
    env.reset(0)
    h0 = env.db_hash()
    oid = _pending_order(env)
    env.step_tool("cancel_pending_order", {"order_id": oid, "reason": "no longer needed"})
    assert env.db_hash() != h0
    env.reset(1)
    assert env.db_hash() == h0 and env.db.orders[oid]["status"] == "pending"
    assert env.tool_log == []


@pytest.mark.parametrize("value", [51, 51.0])
def test_hash_distinguishes_int_and_float(data, value) -> None:
    db = RetailDB(data)
    uid, card = next(
        (u, p)
        for u, rec in data.users.items()
        for p, m in rec["payment_methods"].items()
        if m["source"] == "gift_card"
    )
    db.user_for_write(uid)["payment_methods"][card]["balance"] = value
    ref = {s: copy_json(db[s]) for s in DB_SECTIONS}
    assert db.hash() == canonical_hash(ref)
