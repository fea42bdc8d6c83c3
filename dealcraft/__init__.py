"""Dealcraft: a self-hostable, AI-native sales management platform."""

__version__ = "0.1.0"
