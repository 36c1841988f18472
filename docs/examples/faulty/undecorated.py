def erlen_init_app(app):  # no @erlen.hookimpl
    pass
