"""backup_db and list_backups: dumps with a manifest, verified by a restore."""
