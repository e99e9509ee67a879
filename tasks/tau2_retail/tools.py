"""The 16 tau2-bench retail tools (spec section 10), written from the spec and checked against tau2-bench's
source at the pinned commit (a2c0247).

Differences from v1 that matter (each has a test): failures are exceptions rendered ``Error: {msg}`` with
tau2's capitalised messages; gift cards are recognised by their type (``source``), not by the id; the
address and payment edits accept any status *containing* ``pending``; ``modify_pending_order_items``
refuses an unchanged item and keeps upstream's bug of giving every modified item the price and options of
the *last* validated new variant. There is no ``think``; ``get_item_details`` is new (tau2 of 2026-03).

Arguments reach a tool the way tau2 passes them, as Python keywords with no validation beforehand
(:func:`invoke_tool`): an unknown or missing argument is the ``TypeError`` Python raises for tau2's
``RetailTools`` method, and a wrongly typed value meets the tool's own code first (a number as an order id
is "Order not found", ``""`` as a list is an empty list). Validation happens only where tau2 builds one of
its data models: the address (``UserAddress``) and a payment record (``OrderPayment``, whose ``amount`` is
stored as a float).

Mutations go through ``db.order_for_write`` / ``db.user_for_write`` (copy-on-write, see v1 ``db.py``).
A tool that raises after a write has begun would leave a partial change, as in tau2 (the pydantic
objects are edited in place); no tool here raises after its checks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field, ValidationError, create_model

from tasks.tau_retail.data import copy_json
from tasks.tau_retail.db import RetailDB
from tasks.tau_retail.tools import request_exchange, request_return

from .data import entry_fragment

CANCEL_REASONS = frozenset({"no longer needed", "ordered by mistake"})  # a set: an unhashable reason is a TypeError
CALC_CHARS = "0123456789+-*/(). "  # a string, as upstream: membership is a substring test
#: the pydantic release tau2-bench's uv.lock pins (2.12.4): its validation errors link to this docs version
TAU2_PYDANTIC_DOCS = "2.12"


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


class UserAddress(BaseModel):
    """The address record tau2 builds (and so validates) in the two address edits; fields in its order."""

    address1: str
    address2: str
    city: str
    country: str
    state: str
    zip: str


_DOCS_VERSION = re.compile(r"(https://errors\.pydantic\.dev/)[^/\s]+/")


class ModelValidationError(ValueError):
    """A tau2 data model refused a value: pydantic's text, with the docs link of tau2's pinned pydantic."""


def _new_address(address1: Any, address2: Any, city: Any, state: Any, country: Any, zip: Any) -> dict[str, Any]:  # noqa: A002
    try:
        record = UserAddress(address1=address1, address2=address2, city=city, state=state, country=country, zip=zip)
    except ValidationError as e:
        raise ModelValidationError(_DOCS_VERSION.sub(rf"\g<1>{TAU2_PYDANTIC_DOCS}/", str(e))) from None
    return record.model_dump()


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
    # tau2 builds an OrderPayment, whose float field stores an int difference (no items: 0) as 0.0
    order["payment_history"].append({"transaction_type": "payment" if diff > 0 else "refund",
                                     "amount": float(abs(diff)), "payment_method_id": payment_method_id})
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
    """Check arguments against the tool's declared parameter schema (raises pydantic's ValidationError).

    tau2 does not do this when a tool is called (see :func:`invoke_tool`); the self-check uses it to vet the
    gold actions of the task files."""
    return TOOLS[name].model.model_validate(kwargs).model_dump()


#: tau2's environment calls ``make_tool_call(name, requestor=..., **arguments)``: these argument names
#: collide with that method's own parameters before any tool is looked up.
_ENV_METHOD = "Environment.make_tool_call()"
_ENV_METHOD_FULL = "tau2.environment.environment." + _ENV_METHOD
_ENV_POSITIONAL = ("self", "tool_name")


def _listed(names: list[str]) -> str:
    quoted = [f"'{n}'" for n in names]
    if len(quoted) <= 2:
        return " and ".join(quoted)
    return ", ".join(quoted[:-1]) + ", and " + quoted[-1]


def call_error(name: str, kwargs: Mapping[str, Any]) -> str | None:
    """The ``TypeError`` text tau2's call of tool ``name`` raises for these argument names, or None.

    tau2 passes the arguments as keywords to its ``RetailTools`` method, through its environment's
    ``make_tool_call``; the texts are CPython 3.12's (tau2 pins 3.12; 3.13 appends "Did you mean ...?"
    suggestions), checked in order: a clash with ``make_tool_call``'s parameters, an unknown tool (a
    ValueError, not decided here: None), then the first unexpected keyword, then the missing parameters."""
    if "requestor" in kwargs:
        return f"{_ENV_METHOD_FULL} got multiple values for keyword argument 'requestor'"
    clash = next((k for k in kwargs if k in _ENV_POSITIONAL), None)
    if clash is not None:
        return f"{_ENV_METHOD} got multiple values for argument '{clash}'"
    spec = TOOLS.get(name)
    if spec is None:
        return None
    params = [p for p, _, _ in spec.params]
    method = f"RetailTools.{name}()"
    unexpected = next((k for k in kwargs if k not in params), None)
    if unexpected is not None:
        return f"{method} got an unexpected keyword argument '{unexpected}'"
    missing = [p for p in params if p not in kwargs]
    if missing:
        plural = "s" if len(missing) > 1 else ""
        return f"{method} missing {len(missing)} required positional argument{plural}: {_listed(missing)}"
    return None


def invoke_tool(db: Tau2DB, name: str, kwargs: dict[str, Any]) -> tuple[str, bool]:
    """``(observation, error)`` as tau2's environment returns it for the agent's call: any exception becomes
    ``Error: {exception}`` and an error (it counts toward the episode's error limit): an argument-name
    ``TypeError`` (:func:`call_error`), an unknown tool ``Tool 'x' not found.``, a refused call, or whatever
    Python raises for a wrongly typed value inside the tool (values are passed as they are)."""
    try:
        problem = call_error(name, kwargs)
        if problem is not None:
            raise TypeError(problem)
        spec = TOOLS.get(name)
        if spec is None:
            raise ToolError(f"Tool '{name}' not found.")
        return dump(spec.func(db, **kwargs)), False
    except Exception as e:  # noqa: BLE001 - tau2 turns every exception raised by a call into an observation
        return f"Error: {e}", True


__all__ = ["CANCEL_REASONS", "TOOLS", "WRITE_TOOLS", "ModelValidationError", "Tau2DB", "ToolError", "ToolSpec",
           "UserAddress", "call_error", "dump", "invoke_tool", "validate_arguments"]
