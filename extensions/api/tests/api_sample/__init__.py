"""Sample APIs of the tests."""
