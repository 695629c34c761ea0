"""The hub: a mailbox of signed tasks and answers, kept in SQLite under ``--state`` (so it
survives a restart), on Starlette served by uvicorn. It pins each node's signing key on first
contact (or ahead: ``federate hub trust``), accepts an answer only signed by the pinned key,
and never receives rows: answers carry masked sums and rows sealed for the analyst."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from federate.bundle.signing import parse_public
from federate.errors import FederateError, UsageError
from federate.federation.wire import check_envelope

DATABASE = "hub.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS pins (site TEXT PRIMARY KEY, public TEXT NOT NULL, hello TEXT);
CREATE TABLE IF NOT EXISTS tasks (seq INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id TEXT UNIQUE NOT NULL, sites TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS answers (task_id TEXT NOT NULL, site TEXT NOT NULL,
    body TEXT NOT NULL, PRIMARY KEY (task_id, site));
"""


@contextmanager
def database(state: Path) -> Iterator[sqlite3.Connection]:
    state.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(state / DATABASE, timeout=30)
    try:
        con.executescript(_SCHEMA)
        with con:
            yield con
    finally:
        con.close()


def trust(state: Path, site: str, public: str) -> None:
    """Pin ``site``'s signing key ahead of its first contact; a different pin is refused."""
    parse_public(public)
    with database(state) as con:
        row = con.execute("SELECT public FROM pins WHERE site = ?", (site,)).fetchone()
        if row and row[0] != public:
            raise UsageError(
                f"{site} is pinned to another key already (in {state / DATABASE})",
                code="pinned",
            )
        con.execute("INSERT OR IGNORE INTO pins (site, public) VALUES (?, ?)", (site, public))


async def _body(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        return None


def _refuse(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def hello(request: Request) -> JSONResponse:
    state: Path = request.app.state.root
    envelope = await _body(request)
    try:
        payload = check_envelope(envelope)
    except FederateError as exc:
        return _refuse(403, str(exc))
    site, public = str(payload.get("site")), envelope["signer"]
    with database(state) as con:
        row = con.execute("SELECT public FROM pins WHERE site = ?", (site,)).fetchone()
        if row and row[0] != public:
            return _refuse(409, f"{site} is pinned to another key")
        con.execute(
            "INSERT INTO pins VALUES (?, ?, ?) ON CONFLICT (site) DO UPDATE SET hello = ?",
            (site, public, json.dumps(envelope), json.dumps(envelope)),
        )
    return JSONResponse({"pinned": public})


async def nodes(request: Request) -> JSONResponse:
    state: Path = request.app.state.root
    with database(state) as con:
        rows = con.execute("SELECT site, public, hello FROM pins ORDER BY site").fetchall()
    return JSONResponse(
        {site: {"public": pub, "hello": json.loads(h) if h else None} for site, pub, h in rows}
    )


async def post_task(request: Request) -> JSONResponse:
    state: Path = request.app.state.root
    envelope = await _body(request)
    try:
        payload = check_envelope(envelope)
        task_id, sites = str(payload["task_id"]), list(payload["sites"])
    except (FederateError, KeyError, TypeError) as exc:
        return _refuse(400, f"not a signed task: {exc}")
    with database(state) as con:
        con.execute(
            "INSERT OR IGNORE INTO tasks (task_id, sites, body) VALUES (?, ?, ?)",
            (task_id, json.dumps(sites), json.dumps(envelope)),
        )
    return JSONResponse({"task_id": task_id}, status_code=201)


async def get_tasks(request: Request) -> JSONResponse:
    state: Path = request.app.state.root
    site = request.query_params.get("site", "")
    after = int(request.query_params.get("after", "0"))
    with database(state) as con:
        rows = con.execute(
            "SELECT seq, body FROM tasks t WHERE seq > ? AND EXISTS (SELECT 1 FROM "
            "json_each(t.sites) WHERE value = ?) AND NOT EXISTS (SELECT 1 FROM answers a "
            "WHERE a.task_id = t.task_id AND a.site = ?) ORDER BY seq",
            (after, site, site),
        ).fetchall()
    return JSONResponse([{"seq": seq, "envelope": json.loads(body)} for seq, body in rows])


async def post_answer(request: Request) -> JSONResponse:
    state: Path = request.app.state.root
    envelope = await _body(request)
    payload = envelope.get("payload") if isinstance(envelope, dict) else None
    site = str(payload.get("site", "")) if isinstance(payload, dict) else ""
    with database(state) as con:
        row = con.execute("SELECT public FROM pins WHERE site = ?", (site,)).fetchone()
        try:
            payload = check_envelope(envelope, row[0] if row else "")
        except FederateError as exc:
            return _refuse(403, f"answer of {site}: {exc}")
        con.execute(
            "INSERT OR IGNORE INTO answers VALUES (?, ?, ?)",
            (str(payload["task_id"]), site, json.dumps(envelope)),
        )
    return JSONResponse({"stored": True}, status_code=201)


async def get_answers(request: Request) -> JSONResponse:
    state: Path = request.app.state.root
    task = request.query_params.get("task", "")
    with database(state) as con:
        rows = con.execute("SELECT body FROM answers WHERE task_id = ?", (task,)).fetchall()
    return JSONResponse([json.loads(body) for (body,) in rows])


def app(state: Path) -> Starlette:
    with database(state):
        pass  # created (and checked writable) before the first request
    hub = Starlette(
        routes=[
            Route("/nodes", hello, methods=["POST"]),
            Route("/nodes", nodes, methods=["GET"]),
            Route("/tasks", post_task, methods=["POST"]),
            Route("/tasks", get_tasks, methods=["GET"]),
            Route("/answers", post_answer, methods=["POST"]),
            Route("/answers", get_answers, methods=["GET"]),
        ]
    )
    hub.state.root = state
    return hub


def serve(state: Path, host: str, port: int) -> None:
    import uvicorn

    config: dict[str, Any] = {"host": host, "port": port, "log_level": "warning"}
    uvicorn.run(app(state), **config)
