"""The shop's tables (SQLAlchemy 2 declarative models on Flask-SQLAlchemy).

Money is integer cents everywhere; stock can never go below zero (a CHECK in
the database as well as the code that decrements it).
"""

from blasto.models.address import SavedAddress
from blasto.models.book_change import BookChange
from blasto.models.book_cover import BookCover
from blasto.models.book_pair import BookPair
from blasto.models.card_refund import CardRefund
from blasto.models.cart_line import CartLine
from blasto.models.login_session import LoginSession
from blasto.models.outbox import OutboxMessage
from blasto.models.payment_event import PaymentEvent
from blasto.models.product import Product
from blasto.models.purchase import Purchase, PurchaseEvent, PurchaseItem
from blasto.models.report import Report
from blasto.models.restock_wish import RestockWish
from blasto.models.sweep_heartbeat import SweepHeartbeat
from blasto.models.token import ApiToken
from blasto.models.user import User

__all__ = [
    "ApiToken",
    "BookChange",
    "BookPair",
    "BookCover",
    "CardRefund",
    "CartLine",
    "LoginSession",
    "OutboxMessage",
    "PaymentEvent",
    "Product",
    "Purchase",
    "PurchaseEvent",
    "PurchaseItem",
    "Report",
    "RestockWish",
    "SavedAddress",
    "SweepHeartbeat",
    "User",
]
