"""The worker: a fresh interpreter per call for user code, its runner, and the protocol both sides share."""
