"""An example application package for the documentation."""
