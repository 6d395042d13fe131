"""Receiver load benchmark: see __main__.py."""
