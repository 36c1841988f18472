"""The WSGI entry point of the notes app: gunicorn serves ``wsgi:app``."""

from notes_app import create_app

# The configuration comes from the package's erlen.toml and the ERLEN_*
# variables of the environment, which every worker reads the same way. Nothing
# to add here for the reverse proxy: ERLEN_TRUSTED_PROXY_HOPS makes create_app
# trust its X-Forwarded-* headers.
app = create_app()
