"""Adds links to the blog's sidebar when the blog is enabled."""

import erlen

PLUGIN = erlen.Plugin(name="sidebar", integrates_with=["blog"])


@erlen.hookimpl(optionalhook=True)  # the blog, and so its hook, may be absent
def erlen_blog_sidebar():
    return [("Erlen", "https://example.org/erlen")]
