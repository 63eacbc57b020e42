"""Delivery of insights to Slack (issue #10): routes an admin configures (``routes``), planning which insight goes
where and when (``planning``, ``schedule``), Block Kit messages (``messages``), sending once and only once
(``delivery``) and the state the Monitoring page and /metrics read (``state``)."""

from core.notify.delivery import EVENT_TYPE, DeliveryReport, deliver_due, send_test
from core.notify.routes import (
    DIGEST_CHOICES,
    RouteView,
    add_route,
    insight_types,
    list_routes,
    remove_route,
    set_route_enabled,
)
from core.notify.state import ChannelStatus, DeliveryCollector, DeliveryStatus, delivery_status

__all__ = [
    "DIGEST_CHOICES",
    "EVENT_TYPE",
    "ChannelStatus",
    "DeliveryCollector",
    "DeliveryReport",
    "DeliveryStatus",
    "RouteView",
    "add_route",
    "deliver_due",
    "delivery_status",
    "insight_types",
    "list_routes",
    "remove_route",
    "send_test",
    "set_route_enabled",
]
