"""``python -m alembic_mcp.server`` runs the CLI."""

import sys

from .cli import main

sys.exit(main())
