"""Operations run inside the worker subprocess (they import the user's env.py, models and migrations)."""
