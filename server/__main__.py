"""``python -m alembic_mcp.server`` runs the CLI."""

import sys

from alembic_mcp.server.cli import main

sys.exit(main())
