"""What counts as an outage to wait out rather than a failure of the message or the process."""

from __future__ import annotations

import pika.exceptions
import psycopg2
from sqlalchemy.exc import OperationalError

from quarry_core.queue.consumer import is_outage


def test_database_and_broker_outages_are_outages() -> None:
    assert is_outage(OperationalError("select 1", {}, Exception("server closed the connection")))
    # straight from the pool (engine.raw_connection(), as the controller's lock connection is made)
    assert is_outage(psycopg2.OperationalError("connection refused"))
    assert is_outage(pika.exceptions.StreamLostError("Transport indicated EOF"))
    assert is_outage(ConnectionResetError())


def test_bugs_and_bad_data_are_not() -> None:
    assert not is_outage(ValueError("bad page"))
    assert not is_outage(psycopg2.errors.UniqueViolation("duplicate key"))
