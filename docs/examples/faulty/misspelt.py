import erlen


@erlen.hookimpl
def erlen_init_ap(app):  # misspelt: erlen_init_app
    pass
