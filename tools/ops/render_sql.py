"""Worker op ``render_sql``: render revisions offline (``alembic upgrade <down>:<rev> --sql``).

One ScriptDirectory for all revisions; each revision's SQL is captured separately. A revision that
cannot render offline (it reads rows, inspects the database) is reported with its error, not raised.
"""

from __future__ import annotations

import io
from typing import Any

from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory

from ..alembic_env import config_from_spec
from ..worker_main import describe_exception


def run(request: dict[str, Any]) -> dict[str, Any]:
    cfg = config_from_spec(request["project"], request.get("database_url") or "postgresql://")
    script = ScriptDirectory.from_config(cfg)
    script.revision_map.heads  # noqa: B018 - load every file now: a broken sibling fails the whole op
    out: dict[str, Any] = {}
    for revision, down in request["args"]["revisions"]:
        buffer = io.StringIO()
        cfg.output_buffer = buffer
        start = down or None

        def upgrade(rev, context, _dest=revision):
            return script._upgrade_revs(_dest, rev)

        try:
            with EnvironmentContext(cfg, script, fn=upgrade, as_sql=True, starting_rev=start,
                                    destination_rev=revision, output_buffer=buffer):
                script.run_env()
            out[revision] = {"sql": buffer.getvalue()}
        except BaseException as exc:  # user code: anything can happen
            info = describe_exception(exc)
            info.pop("traceback", None)
            out[revision] = {"error": info, "sql": buffer.getvalue()}
    return {"rendered": out}
