"""The simulated ERP's tables: business tables the miner reads, and sim_ bookkeeping it never does."""

# Types stay portable (SQLite, PostgreSQL, MariaDB): every string has a length because MariaDB
# needs one on indexed columns, amounts are DOUBLE (MariaDB's FLOAT is single precision), and no
# foreign-key constraints are declared, only indexes: an invoice may legitimately arrive before
# its purchase order exists, as in the invoice_before_po scenario.

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

METADATA = sa.MetaData()

_KEY = 16  # business keys like PR-0000001, PAY-00000001
_NAME = 100


def _key(name: str, primary: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(_KEY), primary_key=primary, index=not primary, nullable=False)


def _time(name: str) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(), nullable=False, index=True)


suppliers = sa.Table(
    "suppliers",
    METADATA,
    _key("supplier_id", primary=True),
    sa.Column("name", sa.String(_NAME), nullable=False),
    sa.Column("country", sa.String(40), nullable=False),
    sa.Column("payment_terms_days", sa.Integer(), nullable=False),
)
plants = sa.Table(
    "plants",
    METADATA,
    _key("plant_id", primary=True),
    sa.Column("name", sa.String(_NAME), nullable=False),
    sa.Column("city", sa.String(_NAME), nullable=False),
)
materials = sa.Table(
    "materials",
    METADATA,
    _key("material_id", primary=True),
    sa.Column("name", sa.String(_NAME), nullable=False),
    sa.Column("category", sa.String(40), nullable=False),
    sa.Column("unit_price", sa.Double(), nullable=False),
)
users = sa.Table(
    "users",
    METADATA,
    _key("user_id", primary=True),
    sa.Column("name", sa.String(_NAME), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    _key("plant_id"),
)
purchase_requisitions = sa.Table(
    "purchase_requisitions",
    METADATA,
    _key("pr_id", primary=True),
    _key("plant_id"),
    _key("material_id"),
    sa.Column("quantity", sa.Integer(), nullable=False),
    _time("created_at"),
    _key("created_by"),
)
purchase_orders = sa.Table(
    "purchase_orders",
    METADATA,
    _key("po_id", primary=True),
    _key("pr_id"),
    _key("supplier_id"),
    sa.Column("amount", sa.Double(), nullable=False),
    _time("created_at"),
    _key("created_by"),
)
po_changes = sa.Table(
    "po_changes",
    METADATA,
    sa.Column("change_id", sa.Integer(), primary_key=True, autoincrement=False),
    _key("po_id"),
    _time("changed_at"),
    _key("changed_by"),
    sa.Column("field", sa.String(40), nullable=False),
    sa.Column("old_value", sa.String(40), nullable=False),
    sa.Column("new_value", sa.String(40), nullable=False),
)
po_approvals = sa.Table(
    "po_approvals",
    METADATA,
    sa.Column("approval_id", sa.Integer(), primary_key=True, autoincrement=False),
    _key("po_id"),
    _time("approved_at"),
    _key("approved_by"),
)
goods_receipts = sa.Table(
    "goods_receipts",
    METADATA,
    _key("gr_id", primary=True),
    _key("po_id"),
    _time("received_at"),
    _key("received_by"),
    sa.Column("quantity", sa.Integer(), nullable=False),
)
invoices = sa.Table(
    "invoices",
    METADATA,
    _key("invoice_id", primary=True),
    _key("po_id"),
    _key("supplier_id"),
    _time("received_at"),
    _key("entered_by"),
    sa.Column("amount", sa.Double(), nullable=False),
)
payments = sa.Table(
    "payments",
    METADATA,
    _key("payment_id", primary=True),
    _key("invoice_id"),
    _time("paid_at"),
    _key("paid_by"),
    sa.Column("amount", sa.Double(), nullable=False),
)
ground_truth = sa.Table(
    "ground_truth",
    METADATA,
    _key("case_id"),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("activity", sa.String(_NAME), nullable=False),
    sa.Column("scenario", sa.String(40), nullable=False),
)

MASTER_TABLES = (suppliers, plants, materials, users)
#: Tables whose rows are events; each row becomes visible at its time column.
EVENT_TABLES = (
    purchase_requisitions,
    purchase_orders,
    po_changes,
    po_approvals,
    goods_receipts,
    invoices,
    payments,
)
TIME_COLUMN = {
    "purchase_requisitions": "created_at",
    "purchase_orders": "created_at",
    "po_changes": "changed_at",
    "po_approvals": "approved_at",
    "goods_receipts": "received_at",
    "invoices": "received_at",
    "payments": "paid_at",
}

sim_state = sa.Table(
    "sim_state",
    METADATA,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("value", sa.Text(), nullable=False),
)


def _pending(table: sa.Table) -> sa.Table:
    """A shadow of an event table holding rows scheduled after the snapshot time."""
    time_column = TIME_COLUMN[table.name]
    columns = [
        sa.Column(
            column.name,
            column.type,
            primary_key=column.primary_key,
            autoincrement=False,
            nullable=False,
            index=column.name == time_column,
        )
        for column in table.columns
    ]
    return sa.Table(f"sim_pending_{table.name}", METADATA, *columns)


#: event table name -> its pending shadow
PENDING = {table.name: _pending(table) for table in EVENT_TABLES}

#: Ground-truth rows not settled yet: visible from one time on, and maybe retracted at another.
sim_pending_truth = sa.Table(
    "sim_pending_truth",
    METADATA,
    _key("case_id"),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("activity", sa.String(_NAME), nullable=False),
    sa.Column("scenario", sa.String(40), nullable=False),
    _time("visible_from"),
    sa.Column("visible_until", sa.DateTime(), nullable=True),
)
