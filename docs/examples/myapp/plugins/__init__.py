"""Local plugins of myapp."""
