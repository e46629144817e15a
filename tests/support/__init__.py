"""Helpers shared by the tests (not tests themselves, and not part of the product).

- ``commands``: run ``ingest.py`` and other commands in subprocesses, as a user runs them;
- ``corpus``: small synthetic corpora and a minimal PDF maker;
- ``stores``: open a store afresh and check that it is consistent;
- ``netguard``: run commands so that every attempt to leave 127.0.0.1 is recorded;
- ``servers``: free ports and waiting for a server to listen;
- ``questions``: the good question and the bad questions several test files ask;
- ``jsonl``: read JSON Lines files and outputs;
- ``fakes``: stand-ins for the model.
"""
