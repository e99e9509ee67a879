"""The 16 tau-bench v1 retail tools (spec section 3), written from the spec.

Each tool is a class with a static ``invoke(data, **arguments) -> str`` whose parameter names follow
the tool schema, so that wrong or missing keyword arguments raise Python's own ``TypeError`` with the
same ``<ClassName>.invoke() ...`` wording as upstream (spec section 4).  Arguments are used as given:
no validation or coercion, so wrong types surface as raw Python errors, as upstream.

Mutations go through ``data.order_for_write`` / ``data.user_for_write`` (copy-on-write, see ``db.py``).
"""

from __future__ import annotations

import json
from typing import Any

from .db import RetailDB

CANCEL_REASONS = ("no longer needed", "ordered by mistake")
CALC_CHARS = frozenset("0123456789+-*/(). ")


def _dump(obj: Any) -> str:
    return json.dumps(obj)


def _too_many(requested: list[Any], present: list[Any]) -> Any:
    """First id (in request order) requested more often than it occurs in the order, else None."""
    for x in requested:
        if requested.count(x) > present.count(x):
            return x
    return _NONE


_NONE = object()


def _first_item(order: dict[str, Any], item_id: Any) -> dict[str, Any]:
    """First order item whose current item_id equals ``item_id`` (IndexError if none, as upstream)."""
    return [it for it in order["items"] if it["item_id"] == item_id][0]


def _price_diff(
    data: RetailDB, order: dict[str, Any], item_ids: Any, new_item_ids: Any
) -> tuple[Any, str | None]:
    """Shared variant check + price-difference accumulation of exchange/modify (unrounded)."""
    products = data.products
    diff: Any = 0
    for old_id, new_id in zip(item_ids, new_item_ids, strict=False):
        item = _first_item(order, old_id)
        variants = products[item["product_id"]]["variants"]
        if not (new_id in variants and variants[new_id]["available"]):
            return diff, f"Error: new item {new_id} not found or available"
        diff += variants[new_id]["price"] - item["price"]
    return diff, None


def request_exchange(data: RetailDB, order_id: str, item_ids: list[str], new_item_ids: list[str],
                     payment_method_id: str, price_difference: Any) -> dict[str, Any]:
    """The write of an exchange of delivered items, once checked (v1 and tau2 alike): the order, marked."""
    order = data.order_for_write(order_id)
    order["status"] = "exchange requested"
    order["exchange_items"] = sorted(item_ids)
    order["exchange_new_items"] = sorted(new_item_ids)
    order["exchange_payment_method_id"] = payment_method_id
    order["exchange_price_difference"] = price_difference
    return order


def request_return(data: RetailDB, order_id: str, item_ids: list[str], payment_method_id: str) -> dict[str, Any]:
    """The write of a return of delivered items, once checked (v1 and tau2 alike): the order, marked."""
    order = data.order_for_write(order_id)
    order["status"] = "return requested"
    order["return_items"] = sorted(item_ids)
    order["return_payment_method_id"] = payment_method_id
    return order


class Calculate:
    @staticmethod
    def invoke(data: RetailDB, expression: str) -> str:
        if not all(ch in CALC_CHARS for ch in expression):
            return "Error: invalid characters in expression"
        try:
            value = eval(expression, {"__builtins__": None}, {})  # noqa: S307 - character-filtered, as upstream
            return str(round(float(value), 2))
        except Exception as e:  # noqa: BLE001 - any evaluation error is reported to the agent
            return f"Error: {e}"


class CancelPendingOrder:
    @staticmethod
    def invoke(data: RetailDB, order_id: str, reason: str) -> str:
        if order_id not in data.orders:
            return "Error: order not found"
        if data.orders[order_id]["status"] != "pending":
            return "Error: non-pending order cannot be cancelled"
        if reason not in CANCEL_REASONS:
            return "Error: invalid reason"
        order = data.order_for_write(order_id)
        refunds = []
        for entry in order["payment_history"]:
            method_id = entry["payment_method_id"]
            refunds.append(
                {"transaction_type": "refund", "amount": entry["amount"], "payment_method_id": method_id}
            )
            if "gift_card" in method_id:
                card = data.user_for_write(order["user_id"])["payment_methods"][method_id]
                card["balance"] = round(card["balance"] + entry["amount"], 2)
        order["status"] = "cancelled"
        order["cancel_reason"] = reason
        order["payment_history"].extend(refunds)
        return _dump(order)


class ExchangeDeliveredOrderItems:
    @staticmethod
    def invoke(
        data: RetailDB, order_id: str, item_ids: list[str], new_item_ids: list[str], payment_method_id: str
    ) -> str:
        if order_id not in data.orders:
            return "Error: order not found"
        order = data.orders[order_id]
        if order["status"] != "delivered":
            return "Error: non-delivered order cannot be exchanged"
        missing = _too_many(item_ids, [it["item_id"] for it in order["items"]])
        if missing is not _NONE:
            return f"Error: {missing} not found"
        if len(item_ids) != len(new_item_ids):
            return "Error: the number of items to be exchanged should match"
        diff, err = _price_diff(data, order, item_ids, new_item_ids)
        if err:
            return err
        diff = round(diff, 2)
        methods = data.users[order["user_id"]]["payment_methods"]
        if payment_method_id not in methods:
            return "Error: payment method not found"
        method = methods[payment_method_id]
        if method["source"] == "gift_card" and method["balance"] < diff:
            return "Error: insufficient gift card balance to pay for the price difference"
        return _dump(request_exchange(data, order_id, item_ids, new_item_ids, payment_method_id, diff))


class FindUserIdByEmail:
    @staticmethod
    def invoke(data: RetailDB, email: str) -> str:
        for user_id, user in data.users.items():
            if user["email"].lower() == email.lower():
                return user_id
        return "Error: user not found"


class FindUserIdByNameZip:
    @staticmethod
    def invoke(data: RetailDB, first_name: str, last_name: str, zip: str) -> str:  # noqa: A002 - schema name
        for user_id, user in data.users.items():
            name = user["name"]
            if (
                name["first_name"].lower() == first_name.lower()
                and name["last_name"].lower() == last_name.lower()
                and user["address"]["zip"] == zip
            ):
                return user_id
        return "Error: user not found"


class GetOrderDetails:
    @staticmethod
    def invoke(data: RetailDB, order_id: str) -> str:
        if order_id in data.orders:
            return _dump(data.orders[order_id])
        return "Error: order not found"


class GetProductDetails:
    @staticmethod
    def invoke(data: RetailDB, product_id: str) -> str:
        if product_id in data.products:
            return _dump(data.products[product_id])
        return "Error: product not found"


class GetUserDetails:
    @staticmethod
    def invoke(data: RetailDB, user_id: str) -> str:
        if user_id in data.users:
            return _dump(data.users[user_id])
        return "Error: user not found"


class ListAllProductTypes:
    @staticmethod
    def invoke(data: RetailDB) -> str:
        by_name = {p["name"]: p["product_id"] for p in data.products.values()}
        return _dump(dict(sorted(by_name.items())))


def _address(address1: Any, address2: Any, city: Any, state: Any, country: Any, zip: Any) -> dict[str, Any]:  # noqa: A002
    return {
        "address1": address1,
        "address2": address2,
        "city": city,
        "state": state,
        "country": country,
        "zip": zip,
    }


class ModifyPendingOrderAddress:
    @staticmethod
    def invoke(
        data: RetailDB,
        order_id: str,
        address1: str,
        address2: str,
        city: str,
        state: str,
        country: str,
        zip: str,  # noqa: A002
    ) -> str:
        if order_id not in data.orders:
            return "Error: order not found"
        if data.orders[order_id]["status"] != "pending":
            return "Error: non-pending order cannot be modified"
        order = data.order_for_write(order_id)
        order["address"] = _address(address1, address2, city, state, country, zip)
        return _dump(order)


class ModifyPendingOrderItems:
    @staticmethod
    def invoke(
        data: RetailDB, order_id: str, item_ids: list[str], new_item_ids: list[str], payment_method_id: str
    ) -> str:
        if order_id not in data.orders:
            return "Error: order not found"
        order = data.orders[order_id]
        if order["status"] != "pending":
            return "Error: non-pending order cannot be modified"
        missing = _too_many(item_ids, [it["item_id"] for it in order["items"]])
        if missing is not _NONE:
            return f"Error: {missing} not found"
        if len(item_ids) != len(new_item_ids):
            return "Error: the number of items to be exchanged should match"
        diff, err = _price_diff(data, order, item_ids, new_item_ids)  # NOT rounded (upstream quirk)
        if err:
            return err
        user_id = order["user_id"]
        methods = data.users[user_id]["payment_methods"]
        if payment_method_id not in methods:
            return "Error: payment method not found"
        if (
            methods[payment_method_id]["source"] == "gift_card"
            and methods[payment_method_id]["balance"] < diff
        ):
            return "Error: insufficient gift card balance to pay for the new item"
        order = data.order_for_write(order_id)
        order["payment_history"].append(
            {
                "transaction_type": "payment" if diff > 0 else "refund",
                "amount": abs(diff),
                "payment_method_id": payment_method_id,
            }
        )
        if methods[payment_method_id]["source"] == "gift_card":
            card = data.user_for_write(user_id)["payment_methods"][payment_method_id]
            card["balance"] = round(card["balance"] - diff, 2)
        variants_of = data.products
        for old_id, new_id in zip(item_ids, new_item_ids, strict=False):
            item = _first_item(order, old_id)
            variant = variants_of[item["product_id"]]["variants"][new_id]
            item["item_id"] = new_id
            item["price"] = variant["price"]
            item["options"] = variant["options"]
        order["status"] = "pending (item modified)"
        return _dump(order)


class ModifyPendingOrderPayment:
    @staticmethod
    def invoke(data: RetailDB, order_id: str, payment_method_id: str) -> str:
        if order_id not in data.orders:
            return "Error: order not found"
        order = data.orders[order_id]
        if order["status"] != "pending":
            return "Error: non-pending order cannot be modified"
        user_id = order["user_id"]
        methods = data.users[user_id]["payment_methods"]
        if payment_method_id not in methods:
            return "Error: payment method not found"
        history = order["payment_history"]
        if len(history) > 1 or history[0]["transaction_type"] != "payment":
            return "Error: there should be exactly one payment for a pending order"
        old_id = history[0]["payment_method_id"]
        if old_id == payment_method_id:
            return "Error: the new payment method should be different from the current one"
        amount = history[0]["amount"]
        if (
            methods[payment_method_id]["source"] == "gift_card"
            and methods[payment_method_id]["balance"] < amount
        ):
            return "Error: insufficient gift card balance to pay for the order"
        order = data.order_for_write(order_id)
        order["payment_history"].extend(
            [
                {"transaction_type": "payment", "amount": amount, "payment_method_id": payment_method_id},
                {"transaction_type": "refund", "amount": amount, "payment_method_id": old_id},
            ]
        )
        if methods[payment_method_id]["source"] == "gift_card":
            card = data.user_for_write(user_id)["payment_methods"][payment_method_id]
            card["balance"] = round(card["balance"] - amount, 2)
        if "gift_card" in old_id:
            card = data.user_for_write(user_id)["payment_methods"][old_id]
            card["balance"] = round(card["balance"] + amount, 2)
        return _dump(order)


class ModifyUserAddress:
    @staticmethod
    def invoke(
        data: RetailDB,
        user_id: str,
        address1: str,
        address2: str,
        city: str,
        state: str,
        country: str,
        zip: str,  # noqa: A002
    ) -> str:
        if user_id not in data.users:
            return "Error: user not found"
        user = data.user_for_write(user_id)
        user["address"] = _address(address1, address2, city, state, country, zip)
        return _dump(user)


class ReturnDeliveredOrderItems:
    @staticmethod
    def invoke(data: RetailDB, order_id: str, item_ids: list[str], payment_method_id: str) -> str:
        if order_id not in data.orders:
            return "Error: order not found"
        order = data.orders[order_id]
        if order["status"] != "delivered":
            return "Error: non-delivered order cannot be returned"
        if payment_method_id not in data.users[order["user_id"]]["payment_methods"]:
            return "Error: payment method not found"
        if (
            "gift_card" not in payment_method_id
            and payment_method_id != order["payment_history"][0]["payment_method_id"]
        ):
            return "Error: payment method should be either the original payment method or a gift card"
        if _too_many(item_ids, [it["item_id"] for it in order["items"]]) is not _NONE:
            return "Error: some item not found"
        return _dump(request_return(data, order_id, item_ids, payment_method_id))


class Think:
    @staticmethod
    def invoke(data: RetailDB, thought: str) -> str:
        return ""


class TransferToHumanAgents:
    @staticmethod
    def invoke(data: RetailDB, summary: str) -> str:
        return "Transfer successful"


#: name -> tool class, in upstream (tools.json) order.
TOOLS: dict[str, type] = {
    "calculate": Calculate,
    "cancel_pending_order": CancelPendingOrder,
    "exchange_delivered_order_items": ExchangeDeliveredOrderItems,
    "find_user_id_by_email": FindUserIdByEmail,
    "find_user_id_by_name_zip": FindUserIdByNameZip,
    "get_order_details": GetOrderDetails,
    "get_product_details": GetProductDetails,
    "get_user_details": GetUserDetails,
    "list_all_product_types": ListAllProductTypes,
    "modify_pending_order_address": ModifyPendingOrderAddress,
    "modify_pending_order_items": ModifyPendingOrderItems,
    "modify_pending_order_payment": ModifyPendingOrderPayment,
    "modify_user_address": ModifyUserAddress,
    "return_delivered_order_items": ReturnDeliveredOrderItems,
    "think": Think,
    "transfer_to_human_agents": TransferToHumanAgents,
}

READ_TOOLS = frozenset(
    {
        "calculate",
        "find_user_id_by_email",
        "find_user_id_by_name_zip",
        "get_order_details",
        "get_product_details",
        "get_user_details",
        "list_all_product_types",
        "think",
    }
)
TERMINAL_TOOLS = frozenset({"transfer_to_human_agents"})
WRITE_TOOLS = frozenset(TOOLS) - READ_TOOLS - TERMINAL_TOOLS


def invoke_tool(data: RetailDB, name: str, kwargs: dict[str, Any]) -> str:
    """Upstream dispatcher semantics: unknown name -> ``Unknown action {name}``; any exception ->
    ``Error: {exception}``."""
    tool = TOOLS.get(name)
    if tool is None:
        return f"Unknown action {name}"
    try:
        return tool.invoke(data=data, **kwargs)
    except Exception as e:  # noqa: BLE001 - upstream turns every exception into an observation
        return f"Error: {e}"
