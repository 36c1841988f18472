"""The WSGI entry point of the notes app: gunicorn serves ``wsgi:app``."""

from notes_app import create_app

# The configuration comes from the package's erlen.toml and the ERLEN_*
# variables of the environment, which every worker reads the same way.
app = create_app()
