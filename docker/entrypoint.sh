#!/bin/sh
# Container entrypoint. No arguments or flags only: serve the project at /project (stdio unless
# --transport http is given). A first argument that is a word runs that alembic-mcp subcommand,
# e.g. `check-heads --json` (the working directory is /project, the CLI's default project).
set -eu
case "${1:-}" in
    "" | -*) exec alembic-mcp serve --project /project "$@" ;;
    *) exec alembic-mcp "$@" ;;
esac
