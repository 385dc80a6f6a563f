"""test_roundtrip: upgrade, downgrade and upgrade again on a scratch database, diagnosed."""
