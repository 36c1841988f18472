"""Sending one message or many over one connection."""
