"""What both workers share: the dead-letter hook that makes a run show its poison pages."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from quarry_core.db.engine import session_scope
from quarry_core.db.models import EtlRun
from quarry_core.db.tenancy import acting_as
from quarry_core.messages import Message
from quarry_core.queue.base import Delivery
from quarry_core.queue.consumer import DeadLetterHook
from quarry_core.runs import add_counts, set_phase
from quarry_core.states import TERMINAL_RUN_PHASES, RunPhase, Stage

log = logging.getLogger(__name__)


def dead_letter_hook(factory: sessionmaker[Session], stage: Stage) -> DeadLetterHook:
    """Count the page as failed and FAIL its run with the error.

    Decision: a run with a dead-lettered page never claims Succeeded. Its cursors stay where they
    were and a full run deletes nothing, so the next run (or a retry) fetches the data again; the
    run's `error` names the page, the stage and the error, and `quarry queues --dead-letters` lists it.
    """

    def hook(delivery: Delivery, message: Message | None, error: str) -> None:
        if message is None:
            log.error("%s: undecodable message %s dead-lettered: %s", stage, delivery.message_id, error)
            return
        entity = str(getattr(message, "entity", "unknown"))
        raw_id = getattr(message, "raw_id", None)
        text = f"{stage} of raw page {raw_id} ({entity}) dead-lettered: {error}"[:4000]
        with session_scope(factory) as session:
            acting_as(session, message.tenant)
            # Under the message's tenant: a run that is gone, or another tenant's, is not found.
            run = session.scalar(select(EtlRun).where(EtlRun.id == message.run_id).with_for_update())
            if run is None:
                log.error("%s: message %s names no run of tenant %r (%s); not counted", stage,
                          delivery.message_id, message.tenant, message.run_id)
                return
            add_counts(session, message.tenant, message.run_id, entity, failed=1)
            if RunPhase(run.phase) in TERMINAL_RUN_PHASES:
                run.error = run.error or text
            else:
                set_phase(session, run.id, RunPhase.FAILED, error=text)
        log.error("run %s: %s", message.run_id, text)

    return hook
