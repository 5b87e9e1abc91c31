"""Offline tooling: the mock-runtime plan runner, the policy gate client and the benchmark."""
