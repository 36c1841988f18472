"""Hooks of the blog plugin, for other plugins to implement."""

import erlen


@erlen.hookspec
def erlen_blog_sidebar():
    """Return links to show in the blog's sidebar, as ``(title, url)`` pairs."""
