"""The worker bound: never more than ``max_workers`` interpreters running plus the one warm spare, and a
call that has to wait says "waiting for a worker". Both are checked by counting, not by timing."""

from __future__ import annotations

import os

import anyio
import pytest
from mcp import Client

from alembic_mcp.server.app import build_server
from alembic_mcp.tools.core.config import load_project
from alembic_mcp.tools.heads.check import check_heads
from alembic_mcp.tools.worker import pool, prestart, runner

MODES = ["auto", "legacy"]


@pytest.fixture
def counted_spawns(monkeypatch):
    """Every worker started from now on; ``peaks`` holds the live interpreters right after each start."""
    spawned, peaks = [], []
    real_spawn = prestart.spawn

    def counting_spawn(python, cwd, remove=()):
        process = real_spawn(python, cwd, remove)
        spawned.append(process)
        peaks.append(sum(1 for p in spawned if p.poll() is None))
        return process

    monkeypatch.setattr(prestart, "spawn", counting_spawn)
    monkeypatch.setattr(runner, "spawn", counting_spawn)
    yield spawned, peaks
    prestart.stop_workers()


def test_max_workers_setting_defaults_to_the_cores_and_is_validated(example_project):
    assert load_project(example_project, environ={}).settings.max_workers == (os.cpu_count() or 1)
    assert load_project(example_project, environ={"ALEMBIC_MCP_MAX_WORKERS": "3"}).settings.max_workers == 3
    with pytest.raises(Exception, match="max_workers"):
        load_project(example_project, environ={"ALEMBIC_MCP_MAX_WORKERS": "0"})


def test_concurrent_check_heads_never_exceed_the_bound_plus_one_spare(example_project, monkeypatch, counted_spawns):
    spawned, peaks = counted_spawns
    monkeypatch.setenv("ALEMBIC_MCP_MAX_WORKERS", "2")
    project = load_project(example_project)
    verdicts = []

    async def one_call():
        verdicts.append((await check_heads(project)).verdict)

    async def many():
        prestart.keep_warm()  # a server keeps one idle spare on top of the bound
        async with anyio.create_task_group() as tg:
            for _ in range(8):
                tg.start_soon(one_call)

    anyio.run(many)
    assert verdicts == ["proceed"] * 8
    assert len(spawned) >= 8
    assert max(peaks) <= 2 + 1, peaks


@pytest.mark.parametrize("mode", MODES)
def test_a_call_beyond_the_bound_waits_and_says_so(example_project, monkeypatch, mode):
    monkeypatch.setenv("ALEMBIC_MCP_MAX_WORKERS", "1")
    messages: list[str] = []

    async def go():
        waiting = anyio.Event()

        async def on_progress(progress, total, message):
            messages.append(message or "")
            if message and message.startswith("waiting for a worker"):
                waiting.set()

        async with Client(build_server(str(example_project)), mode=mode) as client:
            result = {}

            async def call():
                result["value"] = await client.call_tool("check_heads", {}, progress_callback=on_progress)

            # The only slot is busy until the call reports that it waits.
            async with anyio.create_task_group() as tg, pool.worker_slot(1):
                tg.start_soon(call)
                await waiting.wait()
            return result["value"]

    result = anyio.run(go)
    assert not result.is_error, result.content[0].text
    assert result.structured_content["verdict"] == "proceed"
    waits = [m for m in messages if m.startswith("waiting for a worker")]
    assert waits == ["waiting for a worker (1 of max_workers=1 busy)"]
