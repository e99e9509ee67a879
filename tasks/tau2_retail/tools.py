"""The 16 tau2-bench retail tools (spec section 10), written from the spec.

Differences from v1 that matter (each has a test): failures are exceptions rendered ``Error: {msg}`` with
tau2's capitalised messages; arguments are validated the way tau2 does it (a pydantic model built from
the tool's parameters: a missing or wrongly typed argument is a pydantic ``ValidationError``, an unknown
one is ignored); gift cards are recognised by their type (``source``), not by the id; the address and
payment edits accept any status *containing* ``pending``; ``modify_pending_order_items`` refuses an
unchanged item and keeps upstream's bug of giving every modified item the price and options of the
*last* validated new variant. There is no ``think``; ``get_item_details`` is new (tau2 of 2026-03).

Mutations go through ``db.order_for_write`` / ``db.user_for_write`` (copy-on-write, see v1 ``db.py``).
A tool that raises after a write has begun would leave a partial change, as in tau2 (the pydantic
objects are edited in place); no tool here raises after its checks.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field, create_model

from tasks.tau_retail.data import copy_json
from tasks.tau_retail.db import RetailDB
from tasks.tau_retail.tools import request_exchange, request_return

from .data import entry_fragment

CANCEL_REASONS = ("no longer needed", "ordered by mistake")
CALC_CHARS = frozenset("0123456789+-*/(). ")


class ToolError(ValueError):
    """A tool refused the call; the agent sees ``Error: {message}``."""


class Tau2DB(RetailDB):
    """The mutable DB of one tau2 episode: v1's copy-on-write DB with tau2's hash, ``sha256(json.dumps(db,
    sort_keys=True))``, kept incremental (only entries written since the last hash are re-rendered)."""

    __slots__ = ()
    fragment = staticmethod(entry_fragment)


def dump(obj: Any) -> str:
    """A tool result as tau2 renders it: strings as they are, records as ``json.dumps(model_dump())``."""
    return obj if isinstance(obj, str) else json.dumps(obj, default=str)


# ----------------------------------------------------------------------------------------------
# lookups (the private helpers of tau2's toolkit)


def _order(db: Tau2DB, order_id: str) -> dict[str, Any]:
    if order_id not in db.orders:
        raise ToolError("Order not found")
    return db.orders[order_id]


def _user(db: Tau2DB, user_id: str) -> dict[str, Any]:
    if user_id not in db.users:
        raise ToolError("User not found")
    return db.users[user_id]


def _product(db: Tau2DB, product_id: str) -> dict[str, Any]:
    if product_id not in db.products:
        raise ToolError("Product not found")
    return db.products[product_id]


def _variant(db: Tau2DB, product_id: str, item_id: str) -> dict[str, Any]:
    variants = _product(db, product_id)["variants"]
    if item_id not in variants:
        raise ToolError("Variant not found")
    return variants[item_id]


def _payment_method(db: Tau2DB, user_id: str, payment_method_id: str) -> dict[str, Any]:
    methods = _user(db, user_id)["payment_methods"]
    if payment_method_id not in methods:
        raise ToolError("Payment method not found")
    return methods[payment_method_id]


def _is_gift_card(method: dict[str, Any]) -> bool:
    return method["source"] == "gift_card"


def _gift_card_for_write(db: Tau2DB, user_id: str, method_id: str) -> dict[str, Any]:
    return db.user_for_write(user_id)["payment_methods"][method_id]


def _first_item(order: dict[str, Any], item_id: str) -> dict[str, Any]:
    item = next((it for it in order["items"] if it["item_id"] == item_id), None)
    if item is None:
        raise ToolError(f"Item {item_id} not found")
    return item


def _check_counts(order: dict[str, Any], item_ids: list[str], message: Callable[[str], str]) -> None:
    present = [it["item_id"] for it in order["items"]]
    for item_id in item_ids:
        if item_ids.count(item_id) > present.count(item_id):
            raise ToolError(message(item_id))


# ----------------------------------------------------------------------------------------------
# the tools


def calculate(db: Tau2DB, expression: str) -> str:
    if not all(ch in CALC_CHARS for ch in expression):
        raise ToolError("Invalid characters in expression")
    return str(round(float(eval(expression, {"__builtins__": None}, {})), 2))  # noqa: S307 - filtered, as upstream


def cancel_pending_order(db: Tau2DB, order_id: str, reason: str) -> dict[str, Any]:
    order = _order(db, order_id)
    if order["status"] != "pending":
        raise ToolError("Non-pending order cannot be cancelled")
    if reason not in CANCEL_REASONS:
        raise ToolError("Invalid reason")
    order = db.order_for_write(order_id)
    refunds = []
    for payment in order["payment_history"]:
        method_id = payment["payment_method_id"]
        refunds.append({"transaction_type": "refund", "amount": payment["amount"], "payment_method_id": method_id})
        if _is_gift_card(_payment_method(db, order["user_id"], method_id)):
            card = _gift_card_for_write(db, order["user_id"], method_id)
            card["balance"] = round(card["balance"] + payment["amount"], 2)
    order["status"] = "cancelled"
    order["cancel_reason"] = reason
    order["payment_history"].extend(refunds)
    return order


@dataclass(frozen=True)
class _ItemChange:
    """The checks of swapping items for other variants, with tau2's messages: an exchange (delivered order) or a
    modification (pending order)."""

    status: str  # the order status it needs
    wrong_status: str
    miscount: Callable[[str], str]  # an item id asked for more often than the order has it
    mismatch: str  # not one new item id per item id
    refuse_same: bool  # an item may not be "changed" to itself
    round_diff: bool  # the price difference is rounded to cents before the balance check
    short_balance: str


_EXCHANGE = _ItemChange("delivered", "Non-delivered order cannot be exchanged", lambda i: f"Number of {i} not found.",
                        "The number of items to be exchanged should match.", refuse_same=False, round_diff=True,
                        short_balance="Insufficient gift card balance to pay for the price difference")
_MODIFY = _ItemChange("pending", "Non-pending order cannot be modified", lambda i: f"{i} not found",
                      "The number of items to be exchanged should match", refuse_same=True, round_diff=False,
                      short_balance="Insufficient gift card balance to pay for the new item")


def _check_item_change(db: Tau2DB, change: _ItemChange, order_id: str, item_ids: list[str], new_item_ids: list[str],
                       payment_method_id: str) -> tuple[float, dict[str, Any] | None, dict[str, Any]]:
    """``(price difference, last validated variant (upstream bug), payment method)`` once every check passed."""
    order = _order(db, order_id)
    if order["status"] != change.status:
        raise ToolError(change.wrong_status)
    _check_counts(order, item_ids, change.miscount)
    if len(item_ids) != len(new_item_ids):
        raise ToolError(change.mismatch)
    diff: float = 0
    variant = None
    for item_id, new_item_id in zip(item_ids, new_item_ids, strict=False):
        if change.refuse_same and item_id == new_item_id:
            raise ToolError("The new item id should be different from the old item id")
        item = _first_item(order, item_id)
        variant = _variant(db, item["product_id"], new_item_id)
        if not variant["available"]:
            raise ToolError(f"New item {new_item_id} not found or available")
        diff += variant["price"] - item["price"]
    if change.round_diff:
        diff = round(diff, 2)
    method = _payment_method(db, order["user_id"], payment_method_id)
    if _is_gift_card(method) and method["balance"] < diff:
        raise ToolError(change.short_balance)
    return diff, variant, method


def exchange_delivered_order_items(db: Tau2DB, order_id: str, item_ids: list[str], new_item_ids: list[str],
                                   payment_method_id: str) -> dict[str, Any]:
    diff, _, _ = _check_item_change(db, _EXCHANGE, order_id, item_ids, new_item_ids, payment_method_id)
    return request_exchange(db, order_id, item_ids, new_item_ids, payment_method_id, diff)


def find_user_id_by_name_zip(db: Tau2DB, first_name: str, last_name: str, zip: str) -> str:  # noqa: A002
    for user_id, user in db.users.items():
        name = user["name"]
        if (name["first_name"].lower() == first_name.lower() and name["last_name"].lower() == last_name.lower()
                and user["address"]["zip"] == zip):
            return user_id
    raise ToolError("User not found")


def find_user_id_by_email(db: Tau2DB, email: str) -> str:
    for user_id, user in db.users.items():
        if user["email"].lower() == email.lower():
            return user_id
    raise ToolError("User not found")


def get_order_details(db: Tau2DB, order_id: str) -> dict[str, Any]:
    return _order(db, order_id)


def get_product_details(db: Tau2DB, product_id: str) -> dict[str, Any]:
    return _product(db, product_id)


def get_item_details(db: Tau2DB, item_id: str) -> dict[str, Any]:
    for product in db.products.values():
        if item_id in product["variants"]:
            return product["variants"][item_id]
    raise ToolError("Item not found")


def get_user_details(db: Tau2DB, user_id: str) -> dict[str, Any]:
    return _user(db, user_id)


def list_all_product_types(db: Tau2DB) -> str:
    return json.dumps({p["name"]: p["product_id"] for p in db.products.values()}, sort_keys=True)


def _new_address(address1: str, address2: str, city: str, state: str, country: str, zip: str) -> dict[str, Any]:  # noqa: A002
    return {"address1": address1, "address2": address2, "city": city, "country": country, "state": state, "zip": zip}


def modify_pending_order_address(db: Tau2DB, order_id: str, address1: str, address2: str, city: str, state: str,
                                 country: str, zip: str) -> dict[str, Any]:  # noqa: A002
    if "pending" not in _order(db, order_id)["status"]:
        raise ToolError("Non-pending order cannot be modified")
    order = db.order_for_write(order_id)
    order["address"] = _new_address(address1, address2, city, state, country, zip)
    return order


def modify_pending_order_items(db: Tau2DB, order_id: str, item_ids: list[str], new_item_ids: list[str],
                               payment_method_id: str) -> dict[str, Any]:
    diff, last_variant, method = _check_item_change(db, _MODIFY, order_id, item_ids, new_item_ids, payment_method_id)
    order = db.order_for_write(order_id)
    order["payment_history"].append({"transaction_type": "payment" if diff > 0 else "refund", "amount": abs(diff),
                                     "payment_method_id": payment_method_id})
    if _is_gift_card(method):
        card = _gift_card_for_write(db, order["user_id"], payment_method_id)
        card["balance"] = round(card["balance"] - diff, 2)
    for item_id, new_item_id in zip(item_ids, new_item_ids, strict=False):
        item = _first_item(order, item_id)
        item["item_id"] = new_item_id
        # upstream bug kept on purpose: every item gets the LAST validated variant's price and options
        item["price"] = last_variant["price"]  # type: ignore[index]
        item["options"] = copy_json(last_variant["options"])  # type: ignore[index]
    order["status"] = "pending (item modified)"
    return order


def modify_pending_order_payment(db: Tau2DB, order_id: str, payment_method_id: str) -> dict[str, Any]:
    order = _order(db, order_id)
    if "pending" not in order["status"]:
        raise ToolError("Non-pending order cannot be modified")
    method = _payment_method(db, order["user_id"], payment_method_id)
    history = order["payment_history"]
    if len(history) != 1 or history[0]["transaction_type"] != "payment":
        raise ToolError("There should be exactly one payment for a pending order")
    old_id = history[0]["payment_method_id"]
    if old_id == payment_method_id:
        raise ToolError("The new payment method should be different from the current one")
    amount = history[0]["amount"]
    if _is_gift_card(method) and method["balance"] < amount:
        raise ToolError("Insufficient gift card balance to pay for the order")
    order = db.order_for_write(order_id)
    order["payment_history"].extend([
        {"transaction_type": "payment", "amount": amount, "payment_method_id": payment_method_id},
        {"transaction_type": "refund", "amount": amount, "payment_method_id": old_id}])
    if _is_gift_card(method):
        card = _gift_card_for_write(db, order["user_id"], payment_method_id)
        card["balance"] = round(card["balance"] - amount, 2)
    if _is_gift_card(_payment_method(db, order["user_id"], old_id)):
        card = _gift_card_for_write(db, order["user_id"], old_id)
        card["balance"] = round(card["balance"] + amount, 2)
    return order


def modify_user_address(db: Tau2DB, user_id: str, address1: str, address2: str, city: str, state: str, country: str,
                        zip: str) -> dict[str, Any]:  # noqa: A002
    _user(db, user_id)
    user = db.user_for_write(user_id)
    user["address"] = _new_address(address1, address2, city, state, country, zip)
    return user


def return_delivered_order_items(db: Tau2DB, order_id: str, item_ids: list[str],
                                 payment_method_id: str) -> dict[str, Any]:
    order = _order(db, order_id)
    if order["status"] != "delivered":
        raise ToolError("Non-delivered order cannot be returned")
    method = _payment_method(db, _user(db, order["user_id"])["user_id"], payment_method_id)
    if not _is_gift_card(method) and payment_method_id != order["payment_history"][0]["payment_method_id"]:
        raise ToolError("Payment method should be the original payment method")
    _check_counts(order, item_ids, lambda _i: "Some item not found")
    return request_return(db, order_id, item_ids, payment_method_id)


def transfer_to_human_agents(db: Tau2DB, summary: str) -> str:
    return "Transfer successful"


# ----------------------------------------------------------------------------------------------
# the tool table: kind (tau2's ToolType), parameters (name, type, description) and our description

S, L = str, list[str]
_ORDER_ID = ("order_id", S, "The order id, such as '#W0000000' (the '#' is part of it).")
_ADDRESS_PARAMS = (("address1", S, "First address line, such as '123 Main St'."),
                   ("address2", S, "Second address line, such as 'Apt 1', or ''."),
                   ("city", S, "City, such as 'San Francisco'."), ("state", S, "State, such as 'CA'."),
                   ("country", S, "Country, such as 'USA'."), ("zip", S, "Zip code, such as '12345'."))
_PAY = ("payment_method_id", S, "Payment method id, such as 'gift_card_0000000' or 'credit_card_0000000'.")


@dataclass(frozen=True)
class ToolSpec:
    name: str
    kind: str  # "read" | "write" | "generic" (tau2's ToolType; only "write" tools change the DB)
    func: Callable[..., Any]
    description: str
    params: tuple[tuple[str, Any, str], ...]
    model: type[BaseModel]

    @property
    def writes(self) -> bool:
        return self.kind == "write"

    def schema(self) -> dict[str, Any]:
        """The OpenAI function schema, parameters as pydantic's JSON schema (as tau2 builds them)."""
        return {"type": "function", "function": {"name": self.name, "description": self.description,
                                                 "parameters": self.model.model_json_schema()}}


def _spec(name: str, kind: str, description: str, *params: tuple[str, Any, str]) -> ToolSpec:
    fields: dict[str, Any] = {p: (t, Field(..., description=d)) for p, t, d in params}
    return ToolSpec(name, kind, globals()[name], description, params, create_model("parameters", **fields))


#: name -> spec, in tau2's toolkit order. Descriptions are ours (tau2's docstrings are not copied): a
#: ``tools.json`` dumped from a tau2 checkout replaces the offered schemas (see ``Tau2Data.tools_json``).
TOOLS: dict[str, ToolSpec] = {s.name: s for s in (
    _spec("calculate", "generic", "Evaluate an arithmetic expression (digits, + - * /, parentheses, spaces); "
          "returns the result rounded to 2 decimals.", ("expression", S, "The expression, such as '2 + 2'.")),
    _spec("cancel_pending_order", "write", "Cancel a pending order after the user explicitly confirmed. Payments "
          "are refunded (gift cards at once, other methods in 5-7 business days). Returns the order.", _ORDER_ID,
          ("reason", S, "Either 'no longer needed' or 'ordered by mistake'.")),
    _spec("exchange_delivered_order_items", "write", "Exchange items of a delivered order for other items of the "
          "same product (once per order, after explicit confirmation). Returns the order.", _ORDER_ID,
          ("item_ids", L, "Item ids to exchange; may repeat."), ("new_item_ids", L, "New item ids, one per item id, "
          "same product, same position."), _PAY),
    _spec("find_user_id_by_name_zip", "read", "Find a user id by first name, last name and zip code.",
          ("first_name", S, "First name, such as 'John'."), ("last_name", S, "Last name, such as 'Doe'."),
          ("zip", S, "Zip code, such as '12345'.")),
    _spec("find_user_id_by_email", "read", "Find a user id by email.",
          ("email", S, "Email, such as 'something@example.com'.")),
    _spec("get_order_details", "read", "Get the status and details of an order.", _ORDER_ID),
    _spec("get_product_details", "read", "Get the inventory details of a product (all its items).",
          ("product_id", S, "Product id, such as '6086499569' (not an item id).")),
    _spec("get_item_details", "read", "Get the inventory details of one item (a product variant).",
          ("item_id", S, "Item id, such as '6086499569' (not a product id).")),
    _spec("get_user_details", "read", "Get the details of a user, including their orders.",
          ("user_id", S, "User id, such as 'sara_doe_496'.")),
    _spec("list_all_product_types", "read", "List the name and product id of every product type (50), as JSON "
          "sorted by name."),
    _spec("modify_pending_order_address", "write", "Change the shipping address of a pending order after explicit "
          "confirmation. Returns the order.", _ORDER_ID, *_ADDRESS_PARAMS),
    _spec("modify_pending_order_items", "write", "Change items of a pending order to other items of the same product "
          "(once per order, after explicit confirmation). Returns the order.", _ORDER_ID,
          ("item_ids", L, "Item ids to change; may repeat."), ("new_item_ids", L, "New item ids, one per item id, same "
          "product, same position."), _PAY),
    _spec("modify_pending_order_payment", "write", "Change the payment method of a pending order after explicit "
          "confirmation. Returns the order.", _ORDER_ID, _PAY),
    _spec("modify_user_address", "write", "Change the default address of a user after explicit confirmation. "
          "Returns the user.", ("user_id", S, "User id, such as 'sara_doe_496'."), *_ADDRESS_PARAMS),
    _spec("return_delivered_order_items", "write", "Request the return of items of a delivered order (status becomes "
          "'return requested') after explicit confirmation. Returns the order.", _ORDER_ID,
          ("item_ids", L, "Item ids to return; may repeat."), _PAY),
    _spec("transfer_to_human_agents", "generic", "Transfer the user to a human agent with a summary of the issue; "
          "only if the user asks for one or the issue cannot be solved with the policy and tools.",
          ("summary", S, "A summary of the user's issue.")),
)}
WRITE_TOOLS = frozenset(n for n, s in TOOLS.items() if s.writes)


def validate_arguments(name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """tau2's argument handling: pydantic validation of the tool's parameter model (raises ValidationError)."""
    return TOOLS[name].model.model_validate(kwargs).model_dump()


def invoke_tool(db: Tau2DB, name: str, kwargs: dict[str, Any]) -> tuple[str, bool]:
    """``(observation, error)`` as tau2's environment returns it: unknown tool ``Error: Tool 'x' not found.``;
    any exception (a refused call, invalid arguments) ``Error: {exception}``."""
    spec = TOOLS.get(name)
    try:
        if spec is None:
            raise ToolError(f"Tool '{name}' not found.")
        return dump(spec.func(db, **validate_arguments(name, kwargs))), False
    except Exception as e:  # noqa: BLE001 - tau2 turns every exception (ToolError, pydantic's ValidationError) into one
        return f"Error: {e}", True


__all__ = ["CANCEL_REASONS", "TOOLS", "WRITE_TOOLS", "Tau2DB", "ToolError", "ToolSpec", "dump", "invoke_tool",
           "validate_arguments"]
