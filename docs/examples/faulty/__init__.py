"""Plugins that fail to load, for the error examples of the documentation."""
