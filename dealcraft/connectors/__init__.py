"""Connectors: sources that bring data in, and channels that send messages out."""
