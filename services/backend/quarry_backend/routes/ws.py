"""Live progress: run phase changes and counters of the caller's tenant, over a WebSocket.

Every API process LISTENs on PostgreSQL (a trigger NOTIFYs on each change), so an event reaches
subscribers of whichever process they are connected to, within the database's own latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from fastapi import APIRouter, HTTPException, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from quarry_backend.db import Database
from quarry_backend.deps import Principal, authenticate

router = APIRouter(tags=["live"])
CHANNEL = "quarry_run_events"
UNAUTHORIZED_CLOSE = 4401


async def _principal(websocket: WebSocket, token: str | None) -> Principal | None:
    if token is None:
        try:
            first = await asyncio.wait_for(websocket.receive_json(), timeout=10)
        except (TimeoutError, ValueError, WebSocketDisconnect):
            return None
        token = first.get("token") if isinstance(first, dict) else None
    try:
        return await run_in_threadpool(
            authenticate, websocket.app.state.db, websocket.app.state.settings, token, None
        )
    except HTTPException:
        return None


@router.websocket("/ws")
async def live(websocket: WebSocket, token: str | None = None) -> None:
    """Send `{"token": "..."}` first or pass `?token=`; then receive `run` and `counters` events."""
    await websocket.accept()
    principal = await _principal(websocket, token)
    if principal is None:
        await websocket.close(code=UNAUTHORIZED_CLOSE, reason="not authenticated")
        return
    db: Database = websocket.app.state.db
    conn: Any = await run_in_threadpool(_listen, db)
    events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    def on_notify() -> None:
        conn.poll()
        while conn.notifies:
            note = conn.notifies.pop(0)
            try:
                event = json.loads(note.payload)
            except ValueError:
                continue
            if event.pop("tenant", None) == principal.tenant:
                events.put_nowait(event)

    loop.add_reader(conn.fileno(), on_notify)
    try:
        await websocket.send_json({"kind": "subscribed", "tenant": principal.tenant})
        receiver = asyncio.create_task(_drain(websocket))
        while not receiver.done():
            getter = asyncio.create_task(events.get())
            done, _ = await asyncio.wait({getter, receiver}, return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                await websocket.send_json(getter.result())
            else:
                getter.cancel()
    except WebSocketDisconnect:
        pass
    finally:
        loop.remove_reader(conn.fileno())
        with contextlib.suppress(Exception):
            conn.close()


async def _drain(websocket: WebSocket) -> None:
    """Read (and ignore) client messages until the client goes away."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            await websocket.receive_text()


def _listen(db: Database) -> Any:
    pooled = db.engine.raw_connection()
    pooled.detach()  # LISTEN state must never go back into the pool
    conn: Any = pooled.dbapi_connection
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"LISTEN {CHANNEL}")
    return conn
