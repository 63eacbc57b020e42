"""Business metrics computed from the operational database (dashboards, tools, insights).

Every function takes keyword-only arguments, is handed its session and a ``DashboardFilters``, and
runs the same SQL on SQLite and PostgreSQL (month bucketing is done in Python).
"""

from core.metrics.activity import CallsWeek, calls_this_week
from core.metrics.customers import (
    PAYMENT_ISSUE_SUCCESS_RATE,
    STUCK_AFTER_DAYS,
    Overdue,
    RentMonth,
    accounts_by_health,
    customers_with_payment_issues,
    overdue_invoices,
    rent_last_month,
    rent_volume_by_customer,
    rent_volume_trend,
    stuck_accounts,
)
from core.metrics.dashboard import (
    Dashboard,
    FilterOptions,
    Owner,
    filter_options,
    has_business_data,
    load_dashboard,
)
from core.metrics.filters import PERIODS, DashboardFilters, add_months, last_complete_month, today
from core.metrics.pipeline import (
    Bookings,
    Forecast,
    bookings_total,
    bookings_trend,
    pipeline_by_stage,
    weighted_forecast,
)
from core.metrics.revenue import CurrentArr, Retention, arr_trend, current_arr, retention, retention_trend

__all__ = [
    "PAYMENT_ISSUE_SUCCESS_RATE",
    "PERIODS",
    "STUCK_AFTER_DAYS",
    "Bookings",
    "CallsWeek",
    "CurrentArr",
    "Dashboard",
    "DashboardFilters",
    "FilterOptions",
    "Forecast",
    "Overdue",
    "Owner",
    "RentMonth",
    "Retention",
    "accounts_by_health",
    "add_months",
    "arr_trend",
    "bookings_total",
    "bookings_trend",
    "calls_this_week",
    "current_arr",
    "customers_with_payment_issues",
    "filter_options",
    "has_business_data",
    "last_complete_month",
    "load_dashboard",
    "overdue_invoices",
    "pipeline_by_stage",
    "rent_last_month",
    "rent_volume_by_customer",
    "rent_volume_trend",
    "retention",
    "retention_trend",
    "stuck_accounts",
    "today",
    "weighted_forecast",
]
