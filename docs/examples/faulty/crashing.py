import erlen


@erlen.hookimpl
def erlen_init_app(app):
    raise RuntimeError("cannot reach the cache")
