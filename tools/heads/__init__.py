"""check_heads and merge_heads: the revision graph's heads and the database's place in it."""
