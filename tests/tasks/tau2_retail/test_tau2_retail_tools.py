"""tau2 retail tools: semantics and error strings of spec section 10, on the real tau2 database."""

from __future__ import annotations

import json
import sys

import pytest

from tasks.tau2_retail.data import INITIAL_DB_HASH, db_hash
from tasks.tau2_retail.tools import TOOLS, WRITE_TOOLS, Tau2DB, call_error, invoke_tool

PENDING = "#W8367380"  # ava_nguyen_6646, 3 items, one credit-card payment; the user has gift_card_1994993 (78.0)
PENDING_USER = "ava_nguyen_6646"
DELIVERED = "#W3113816"  # emma_santos_9753, paid by credit_card_5869505; the user has gift_card_6023546
DELIVERED_USER = "emma_santos_9753"
PROCESSED = "#W2611340"
TWO_OF_A_KIND = "#W5918442"  # pending, two items of product 3377618313
KIND_ITEMS = ["1586641416", "6117189161"]
KIND_NEW = ["6700049080", "5925362855"]


def call(db: Tau2DB, name: str, **kwargs) -> str:
    obs, error = invoke_tool(db, name, kwargs)
    assert error == obs.startswith("Error: ")
    return obs


def test_sixteen_tools_no_think_and_get_item_details(data) -> None:
    assert len(TOOLS) == 16 and "think" not in TOOLS and "get_item_details" in TOOLS
    assert WRITE_TOOLS == {"cancel_pending_order", "exchange_delivered_order_items", "modify_pending_order_address",
                           "modify_pending_order_items", "modify_pending_order_payment", "modify_user_address",
                           "return_delivered_order_items"}
    schema = TOOLS["exchange_delivered_order_items"].schema()["function"]["parameters"]
    assert schema["required"] == ["order_id", "item_ids", "new_item_ids", "payment_method_id"]
    assert schema["properties"]["item_ids"]["type"] == "array"


def test_outputs_are_pydantic_dumps_with_nulls_and_user_id(db) -> None:
    order = json.loads(call(db, "get_order_details", order_id=PENDING))
    assert list(order) == ["order_id", "user_id", "address", "items", "status", "fulfillments", "payment_history",
                           "cancel_reason", "exchange_items", "exchange_new_items", "exchange_payment_method_id",
                           "exchange_price_difference", "return_items", "return_payment_method_id"]
    assert order["cancel_reason"] is None and order["return_items"] is None
    assert list(order["address"]) == ["address1", "address2", "city", "country", "state", "zip"]
    user = json.loads(call(db, "get_user_details", user_id=PENDING_USER))
    assert list(user)[:2] == ["user_id", "name"] and user["user_id"] == PENDING_USER
    gift = user["payment_methods"]["gift_card_1994993"]
    assert list(gift) == ["source", "id", "balance"] and gift["balance"] == 78.0
    item = json.loads(call(db, "get_item_details", item_id=KIND_NEW[0]))
    assert list(item) == ["item_id", "options", "available", "price"] and item["item_id"] == KIND_NEW[0]
    assert call(db, "find_user_id_by_email", email=user["email"].upper()) == PENDING_USER
    assert call(db, "transfer_to_human_agents", summary="help") == "Transfer successful"
    assert call(db, "calculate", expression="(2 + 3) / 3") == "1.67"
    assert db.hash() == INITIAL_DB_HASH  # reads change nothing


@pytest.mark.parametrize("name,kwargs,message", [
    ("get_order_details", {"order_id": "#W0000000"}, "Order not found"),
    ("get_user_details", {"user_id": "nobody_1"}, "User not found"),
    ("find_user_id_by_email", {"email": "nobody@example.com"}, "User not found"),
    ("find_user_id_by_name_zip", {"first_name": "Ava", "last_name": "Nguyen", "zip": "00000"}, "User not found"),
    ("get_product_details", {"product_id": "0000000000"}, "Product not found"),
    ("get_item_details", {"item_id": "0000000000"}, "Item not found"),
    ("calculate", {"expression": "2 ** x"}, "Invalid characters in expression"),
    ("cancel_pending_order", {"order_id": PROCESSED, "reason": "no longer needed"},
     "Non-pending order cannot be cancelled"),
    ("cancel_pending_order", {"order_id": PENDING, "reason": "too slow"}, "Invalid reason"),
    ("modify_pending_order_address", {"order_id": PROCESSED, "address1": "a", "address2": "", "city": "c",
                                      "state": "s", "country": "USA", "zip": "1"}, "Non-pending order cannot be modified"),
    ("modify_pending_order_payment", {"order_id": PENDING, "payment_method_id": "paypal_0"}, "Payment method not found"),
    ("modify_pending_order_items", {"order_id": PENDING, "item_ids": ["9999999999"], "new_item_ids": ["1"],
                                    "payment_method_id": "gift_card_1994993"}, "9999999999 not found"),
    ("modify_pending_order_items", {"order_id": PENDING, "item_ids": ["2444431651"], "new_item_ids": [],
                                    "payment_method_id": "gift_card_1994993"},
     "The number of items to be exchanged should match"),
    ("modify_pending_order_items", {"order_id": PENDING, "item_ids": ["2444431651"], "new_item_ids": ["2444431651"],
                                    "payment_method_id": "gift_card_1994993"},
     "The new item id should be different from the old item id"),
    ("modify_pending_order_items", {"order_id": PENDING, "item_ids": ["2444431651"], "new_item_ids": ["1689914594"],
                                    "payment_method_id": "gift_card_1994993"}, "Variant not found"),
    ("exchange_delivered_order_items", {"order_id": PENDING, "item_ids": [], "new_item_ids": [],
                                        "payment_method_id": "x"}, "Non-delivered order cannot be exchanged"),
    ("exchange_delivered_order_items", {"order_id": DELIVERED, "item_ids": ["9999999999"], "new_item_ids": ["1"],
                                        "payment_method_id": "x"}, "Number of 9999999999 not found."),
    ("exchange_delivered_order_items", {"order_id": DELIVERED, "item_ids": ["2206116040"], "new_item_ids": [],
                                        "payment_method_id": "x"}, "The number of items to be exchanged should match."),
    ("return_delivered_order_items", {"order_id": PENDING, "item_ids": [], "payment_method_id": "x"},
     "Non-delivered order cannot be returned"),
    ("return_delivered_order_items", {"order_id": DELIVERED, "item_ids": ["2206116040"], "payment_method_id": "x"},
     "Payment method not found"),
    ("return_delivered_order_items", {"order_id": DELIVERED, "item_ids": ["2206116040", "2206116040"],
                                      "payment_method_id": "credit_card_5869505"}, "Some item not found"),
    ("refund_everything", {"order_id": PENDING}, "Tool 'refund_everything' not found."),
])
def test_capitalised_error_messages_leave_the_db_alone(db, name, kwargs, message) -> None:
    assert call(db, name, **kwargs) == f"Error: {message}"
    assert db.hash() == INITIAL_DB_HASH


def test_payment_errors(db, data) -> None:
    card = data.orders[PENDING]["payment_history"][0]["payment_method_id"]
    assert call(db, "modify_pending_order_payment", order_id=PENDING, payment_method_id=card) == \
        "Error: The new payment method should be different from the current one"
    assert call(db, "modify_pending_order_payment", order_id=PENDING, payment_method_id="gift_card_1994993") == \
        "Error: Insufficient gift card balance to pay for the order"
    gift = next(k for k, v in data.users[DELIVERED_USER]["payment_methods"].items() if v["source"] == "gift_card")
    assert call(db, "return_delivered_order_items", order_id=DELIVERED, item_ids=["2206116040"],
                payment_method_id=gift).startswith('{"order_id"')  # a gift card is always allowed
    fresh = Tau2DB(data)
    fresh.user_for_write(PENDING_USER)["payment_methods"]["paypal_1"] = {"source": "paypal", "id": "paypal_1"}
    assert call(fresh, "modify_pending_order_payment", order_id=PENDING, payment_method_id="paypal_1").startswith("{")
    assert call(fresh, "modify_pending_order_payment", order_id=PENDING, payment_method_id=card) == \
        "Error: There should be exactly one payment for a pending order"


def test_unavailable_variant_and_gift_card_balance_in_exchanges(db, data) -> None:
    order = data.orders[DELIVERED]
    item = order["items"][0]
    variants = data.products[item["product_id"]]["variants"]
    gone = next(k for k, v in variants.items() if not v["available"])
    assert call(db, "exchange_delivered_order_items", order_id=DELIVERED, item_ids=[item["item_id"]],
                new_item_ids=[gone], payment_method_id="credit_card_5869505") == f"Error: New item {gone} not found or available"
    gift = next(k for k, v in data.users[DELIVERED_USER]["payment_methods"].items() if v["source"] == "gift_card")
    balance = data.users[DELIVERED_USER]["payment_methods"][gift]["balance"]
    for it in order["items"]:
        pricier = [k for k, v in data.products[it["product_id"]]["variants"].items()
                   if v["available"] and v["price"] - it["price"] > balance]
        if pricier:
            assert call(db, "exchange_delivered_order_items", order_id=DELIVERED, item_ids=[it["item_id"]],
                        new_item_ids=[pricier[0]], payment_method_id=gift) == \
                "Error: Insufficient gift card balance to pay for the price difference"
            break
    else:
        pytest.fail("no variant dearer than the gift card balance in the order")
    pending_items = data.orders[PENDING]["items"]
    for it in pending_items:
        pricier = [k for k, v in data.products[it["product_id"]]["variants"].items()
                   if v["available"] and v["price"] - it["price"] > 78.0]
        if pricier:
            assert call(db, "modify_pending_order_items", order_id=PENDING, item_ids=[it["item_id"]],
                        new_item_ids=[pricier[0]], payment_method_id="gift_card_1994993") == \
                "Error: Insufficient gift card balance to pay for the new item"
            break
    assert db.hash() == INITIAL_DB_HASH


def test_modify_items_gives_every_item_the_last_variants_price_and_options(db, data) -> None:
    """Upstream bug kept: item ids are right, price and options come from the last validated new variant."""
    variants = data.products["3377618313"]["variants"]
    order = data.orders[TWO_OF_A_KIND]
    method = order["payment_history"][0]["payment_method_id"]
    out = json.loads(call(db, "modify_pending_order_items", order_id=TWO_OF_A_KIND, item_ids=KIND_ITEMS,
                          new_item_ids=KIND_NEW, payment_method_id=method))
    changed = [it for it in out["items"] if it["product_id"] == "3377618313"]
    assert [it["item_id"] for it in changed] == KIND_NEW
    last = variants[KIND_NEW[1]]
    assert all(it["price"] == last["price"] and it["options"] == last["options"] for it in changed)
    assert variants[KIND_NEW[0]]["price"] != last["price"]
    old = {it["item_id"]: it["price"] for it in order["items"]}
    diff = sum(variants[n]["price"] - old[o] for o, n in zip(KIND_ITEMS, KIND_NEW, strict=True))
    assert out["payment_history"][-1] == {"transaction_type": "payment" if diff > 0 else "refund",
                                          "amount": abs(diff), "payment_method_id": method}
    assert out["status"] == "pending (item modified)"
    assert db.hash() == db_hash({"orders": db.orders, "products": db.products, "users": db.users}) != INITIAL_DB_HASH


def test_address_and_payment_edits_accept_any_pending_status(db, data) -> None:
    method = data.orders[TWO_OF_A_KIND]["payment_history"][0]["payment_method_id"]
    call(db, "modify_pending_order_items", order_id=TWO_OF_A_KIND, item_ids=KIND_ITEMS[:1], new_item_ids=KIND_NEW[:1],
         payment_method_id=method)
    moved = json.loads(call(db, "modify_pending_order_address", order_id=TWO_OF_A_KIND, address1="1 Main St",
                            address2="", city="Austin", state="TX", country="USA", zip="73301"))
    assert moved["status"] == "pending (item modified)" and moved["address"]["city"] == "Austin"
    assert list(moved["address"]) == ["address1", "address2", "city", "country", "state", "zip"]
    # the payment edit passes the status check, then meets the two-payment rule
    assert call(db, "modify_pending_order_payment", order_id=TWO_OF_A_KIND, payment_method_id="paypal_x") == \
        "Error: Payment method not found"
    assert call(db, "cancel_pending_order", order_id=TWO_OF_A_KIND, reason="no longer needed") == \
        "Error: Non-pending order cannot be cancelled"
    assert call(db, "modify_pending_order_items", order_id=TWO_OF_A_KIND, item_ids=KIND_ITEMS[1:],
                new_item_ids=KIND_NEW[1:], payment_method_id=method) == "Error: Non-pending order cannot be modified"


def test_gift_cards_are_recognised_by_type_not_by_id(db, data) -> None:
    """A gift card whose id lacks 'gift_card' is still refunded (v1's substring test would miss it)."""
    user = db.user_for_write(PENDING_USER)
    user["payment_methods"]["store_credit_1"] = {"source": "gift_card", "id": "store_credit_1", "balance": 5000.0}
    order = db.order_for_write(PENDING)
    amount = order["payment_history"][0]["amount"]
    order["payment_history"][0]["payment_method_id"] = "store_credit_1"
    out = json.loads(call(db, "cancel_pending_order", order_id=PENDING, reason="ordered by mistake"))
    assert out["status"] == "cancelled" and out["cancel_reason"] == "ordered by mistake"
    assert out["payment_history"][-1] == {"transaction_type": "refund", "amount": amount,
                                          "payment_method_id": "store_credit_1"}
    assert db.users[PENDING_USER]["payment_methods"]["store_credit_1"]["balance"] == round(5000.0 + amount, 2)


# ------------------------------------------------------------------------------------------------
# Arguments reach a tool as tau2 passes them (tau2-bench @ a2c0247: Environment.get_response calls
# make_tool_call(name, requestor=..., **arguments), which calls the RetailTools method with the keywords;
# any exception is "Error: {e}" with error=True, counted toward max_errors). Nothing is validated first.

PAYMENT_CHANGE = ("#W6779827", "credit_card_9789590")  # pending, one gift-card payment; the user has a credit card

#: one call per tool that succeeds on the pristine DB (a write changes it)
VALID_CALLS: dict[str, dict] = {
    "calculate": {"expression": "1 + 1"},
    "cancel_pending_order": {"order_id": PENDING, "reason": "no longer needed"},
    "exchange_delivered_order_items": {"order_id": DELIVERED, "item_ids": ["2206116040"],
                                       "new_item_ids": ["3358616356"], "payment_method_id": "credit_card_5869505"},
    "find_user_id_by_name_zip": {"first_name": "Ava", "last_name": "Nguyen", "zip": "94128"},
    "find_user_id_by_email": {"email": "ava.nguyen2868@example.com"},
    "get_order_details": {"order_id": PENDING},
    "get_product_details": {"product_id": "3377618313"},
    "get_item_details": {"item_id": KIND_NEW[0]},
    "get_user_details": {"user_id": PENDING_USER},
    "list_all_product_types": {},
    "modify_pending_order_address": {"order_id": PENDING, "address1": "1 Main St", "address2": "", "city": "Austin",
                                     "state": "TX", "country": "USA", "zip": "73301"},
    "modify_pending_order_items": {"order_id": TWO_OF_A_KIND, "item_ids": KIND_ITEMS[:1], "new_item_ids": KIND_NEW[:1],
                                   "payment_method_id": "credit_card_5051208"},
    "modify_pending_order_payment": {"order_id": PAYMENT_CHANGE[0], "payment_method_id": PAYMENT_CHANGE[1]},
    "modify_user_address": {"user_id": PENDING_USER, "address1": "1 Main St", "address2": "", "city": "Austin",
                            "state": "TX", "country": "USA", "zip": "73301"},
    "return_delivered_order_items": {"order_id": DELIVERED, "item_ids": ["2206116040"],
                                     "payment_method_id": "credit_card_5869505"},
    "transfer_to_human_agents": {"summary": "help"},
}


def test_valid_calls_cover_every_tool_and_every_write_changes_the_db(data) -> None:
    assert set(VALID_CALLS) == set(TOOLS)
    for name, kwargs in VALID_CALLS.items():
        db = Tau2DB(data)
        obs, error = invoke_tool(db, name, dict(kwargs))
        assert not error, (name, obs)
        assert (db.hash() != INITIAL_DB_HASH) == (name in WRITE_TOOLS), name


@pytest.mark.parametrize("name", sorted(VALID_CALLS))
def test_an_extra_argument_is_tau2s_type_error_and_changes_nothing(data, name) -> None:
    """tau2: "RetailTools.<tool>() got an unexpected keyword argument 'user_id'"; the call does not run."""
    db = Tau2DB(data)
    extra = "note" if "user_id" in VALID_CALLS[name] else "user_id"
    obs, error = invoke_tool(db, name, {**VALID_CALLS[name], extra: "sara_doe_496"})
    assert error and obs == f"Error: RetailTools.{name}() got an unexpected keyword argument '{extra}'"
    assert db.hash() == INITIAL_DB_HASH
    # the first unknown name is the one named, before any missing one
    obs, _ = invoke_tool(db, name, {"zz": 1, "aa": 2})
    assert obs == f"Error: RetailTools.{name}() got an unexpected keyword argument 'zz'"


def test_the_issue_example_cancel_with_user_id_is_an_error_and_the_order_stays_pending(db) -> None:
    obs = call(db, "cancel_pending_order", order_id=PENDING, reason="no longer needed", user_id=PENDING_USER)
    assert obs == "Error: RetailTools.cancel_pending_order() got an unexpected keyword argument 'user_id'"
    assert json.loads(call(db, "get_order_details", order_id=PENDING))["status"] == "pending"


@pytest.mark.parametrize("name,kwargs,message", [
    ("get_order_details", {}, "RetailTools.get_order_details() missing 1 required positional argument: 'order_id'"),
    ("cancel_pending_order", {"order_id": PENDING},
     "RetailTools.cancel_pending_order() missing 1 required positional argument: 'reason'"),
    ("return_delivered_order_items", {"order_id": DELIVERED},
     "RetailTools.return_delivered_order_items() missing 2 required positional arguments: 'item_ids' and "
     "'payment_method_id'"),
    ("exchange_delivered_order_items", {},
     "RetailTools.exchange_delivered_order_items() missing 4 required positional arguments: 'order_id', 'item_ids', "
     "'new_item_ids', and 'payment_method_id'"),
    # the names tau2's Environment.make_tool_call(self, tool_name, requestor, **kwargs) itself takes
    ("get_order_details", {"order_id": PENDING, "requestor": "user"},
     "tau2.environment.environment.Environment.make_tool_call() got multiple values for keyword argument "
     "'requestor'"),
    ("no_such_tool", {"tool_name": "x", "self": 1},
     "Environment.make_tool_call() got multiple values for argument 'tool_name'"),
    ("get_order_details", {"self": 1, "order_id": PENDING},
     "Environment.make_tool_call() got multiple values for argument 'self'"),
])
def test_missing_and_clashing_arguments_are_tau2s_type_errors(db, name, kwargs, message) -> None:
    assert call(db, name, **kwargs) == f"Error: {message}"
    assert db.hash() == INITIAL_DB_HASH


@pytest.mark.skipif(sys.version_info >= (3, 13), reason="Python 3.13 adds 'Did you mean' to these errors; tau2 "
                    "pins 3.12, whose text this interpreter shares only below 3.13")
def test_argument_errors_are_the_interpreters_own_for_tau2s_method_signatures() -> None:
    """The texts of ``call_error`` equal what CPython raises for a method of the same name and parameters."""
    for name, spec in TOOLS.items():
        params = [p for p, _, _ in spec.params]
        namespace: dict = {}
        exec(f"def {name}(self, {', '.join(params)}): pass", namespace)  # noqa: S102 - a stand-in signature
        method = namespace[name]
        method.__qualname__ = f"RetailTools.{name}"
        shapes = [{}, {"unknown": 1}, {p: 1 for p in params[1:]}, {p: 1 for p in params[:1]},
                  {**{p: 1 for p in params}, "later": 2}, {"first": 0, **{p: 1 for p in params}}]
        for kwargs in shapes:
            try:
                method(object(), **kwargs)
                expected = None
            except TypeError as e:
                expected = str(e)
            assert call_error(name, kwargs) == expected, (name, kwargs)


@pytest.mark.parametrize("name,kwargs,observation", [
    # the tool's own checks answer first
    ("get_order_details", {"order_id": 8367380}, "Error: Order not found"),
    ("get_order_details", {"order_id": None}, "Error: Order not found"),
    ("get_order_details", {"order_id": [PENDING]}, "Error: unhashable type: 'list'"),
    ("get_user_details", {"user_id": {"id": PENDING_USER}}, "Error: unhashable type: 'dict'"),
    ("get_item_details", {"item_id": 6700049080}, "Error: Item not found"),
    ("find_user_id_by_name_zip", {"first_name": "Ava", "last_name": "Nguyen", "zip": 94128}, "Error: User not found"),
    ("find_user_id_by_email", {"email": 5}, "Error: 'int' object has no attribute 'lower'"),
    ("cancel_pending_order", {"order_id": PENDING, "reason": ["no longer needed"]}, "Error: unhashable type: 'list'"),
    ("cancel_pending_order", {"order_id": PENDING, "reason": 1}, "Error: Invalid reason"),
    ("calculate", {"expression": 2}, "Error: 'int' object is not iterable"),
    ("calculate", {"expression": ["12", "+", "3"]}, "Error: eval() arg 1 must be a string, bytes or code object"),
    ("calculate", {"expression": [1]}, "Error: 'in <string>' requires string as left operand, not int"),
    ("modify_pending_order_items", {"order_id": TWO_OF_A_KIND, "item_ids": 5, "new_item_ids": [],
                                    "payment_method_id": "x"}, "Error: 'int' object is not iterable"),
    ("exchange_delivered_order_items", {"order_id": DELIVERED, "item_ids": ["2206116040"], "new_item_ids": 7,
                                        "payment_method_id": "x"}, "Error: object of type 'int' has no len()"),
    ("exchange_delivered_order_items", {"order_id": DELIVERED, "item_ids": "2206116040", "new_item_ids": [],
                                        "payment_method_id": "x"}, "Error: Number of 2 not found."),
    ("return_delivered_order_items", {"order_id": DELIVERED, "item_ids": {"2206116040": 1},
                                      "payment_method_id": "credit_card_5869505"},
     "Error: 'dict' object has no attribute 'count'"),
    ("modify_pending_order_payment", {"order_id": PAYMENT_CHANGE[0], "payment_method_id": [PAYMENT_CHANGE[1]]},
     "Error: unhashable type: 'list'"),
    # no check at all: any summary transfers
    ("transfer_to_human_agents", {"summary": 5}, "Transfer successful"),
    ("transfer_to_human_agents", {"summary": {"issue": ["refund"]}}, "Transfer successful"),
])
def test_wrongly_typed_values_meet_the_tools_own_code(db, name, kwargs, observation) -> None:
    assert call(db, name, **kwargs) == observation
    assert db.hash() == INITIAL_DB_HASH


def test_an_empty_string_for_a_list_is_an_empty_list(db) -> None:
    out = json.loads(call(db, "return_delivered_order_items", order_id=DELIVERED, item_ids="",
                          payment_method_id="credit_card_5869505"))
    assert out["status"] == "return requested" and out["return_items"] == []
    fresh = Tau2DB(db.base)
    out = json.loads(call(fresh, "exchange_delivered_order_items", order_id=DELIVERED, item_ids="", new_item_ids="",
                          payment_method_id="credit_card_5869505"))
    assert out["exchange_items"] == [] and out["exchange_new_items"] == []
    # tau2 assigns round(0, 2) to the field without validation: an int, dumped as 0
    assert out["exchange_price_difference"] == 0 and type(out["exchange_price_difference"]) is int


def test_the_address_is_validated_by_tau2s_user_address_model(db) -> None:
    args = dict(VALID_CALLS["modify_user_address"], address2=None, zip=73301)
    assert call(db, "modify_user_address", **args) == (
        "Error: 2 validation errors for UserAddress\n"
        "address2\n"
        "  Input should be a valid string [type=string_type, input_value=None, input_type=NoneType]\n"
        "    For further information visit https://errors.pydantic.dev/2.12/v/string_type\n"
        "zip\n"
        "  Input should be a valid string [type=string_type, input_value=73301, input_type=int]\n"
        "    For further information visit https://errors.pydantic.dev/2.12/v/string_type")
    args = dict(VALID_CALLS["modify_pending_order_address"], city=["Austin"])
    assert call(db, "modify_pending_order_address", **args).startswith(
        "Error: 1 validation error for UserAddress\ncity\n  Input should be a valid string [type=string_type, "
        "input_value=['Austin'], input_type=list]")
    # the order checks come first, as upstream
    assert call(db, "modify_pending_order_address", **dict(args, order_id=PROCESSED)) == \
        "Error: Non-pending order cannot be modified"
    assert db.hash() == INITIAL_DB_HASH


def test_a_zero_payment_amount_is_stored_as_a_float_like_tau2s_order_payment(db) -> None:
    """No items to modify: tau2 records OrderPayment(amount=abs(0)), a float field, so the DB holds 0.0."""
    out = json.loads(call(db, "modify_pending_order_items", order_id=TWO_OF_A_KIND, item_ids=[], new_item_ids=[],
                          payment_method_id="credit_card_5051208"))
    assert out["status"] == "pending (item modified)"
    payment = out["payment_history"][-1]
    assert payment == {"transaction_type": "refund", "amount": 0.0, "payment_method_id": "credit_card_5051208"}
    assert type(payment["amount"]) is float
    whole = {"orders": db.orders, "products": db.products, "users": db.users}
    assert db.hash() == db_hash(whole)
    db.orders[TWO_OF_A_KIND]["payment_history"][-1]["amount"] = 0  # what an int would have stored
    assert db_hash(whole) != db.hash()
