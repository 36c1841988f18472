import erlen


@erlen.hookimpl
def erlen_init_app(application):  # the hook provides "app"
    pass
