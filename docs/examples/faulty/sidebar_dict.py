import erlen

PLUGIN = erlen.Plugin(name="links", integrates_with=["blog"])


@erlen.hookimpl(optionalhook=True)
def erlen_blog_sidebar():
    return {"Erlen": "https://example.org/erlen"}  # the blog expects a list
