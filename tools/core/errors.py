"""Exceptions that stop a tool before it can give a verdict.

Every message says what was wrong and how to fix it; the MCP layer turns these into
``ToolError`` results and the CLI into exit code 3.
"""


class AlembicMcpError(Exception):
    """A tool could not produce a verdict. ``str(err)`` is meant for the caller."""


class InvalidArgument(AlembicMcpError):
    """A caller-supplied argument is invalid (unknown revision, bad path, bad label)."""


class ProjectError(AlembicMcpError):
    """The project directory or its Alembic / alembic-mcp configuration is unusable."""


class DatabaseUnavailable(AlembicMcpError):
    """A database the tool needs could not be reached."""


class WorkerFailed(AlembicMcpError):
    """The worker subprocess crashed, timed out or returned garbage."""

    def __init__(self, message: str, stderr: str = "", timed_out: bool = False):
        super().__init__(message)
        self.stderr = stderr
        self.timed_out = timed_out
