"""A browser named as a person names it ("Firefox on Linux"), from the ``User-Agent`` it sent.

The "Your sessions" page lists the devices logged in to an account: a raw ``User-Agent``
("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) ...") says little to its
owner and takes five lines on a phone. Only the common browsers and systems are named; anything
else (a script, a rare browser) is shown as it was sent, which names it better than a guess.
"""

from __future__ import annotations

#: Tokens naming a browser, most specific first: Edge, Opera and Samsung's browser send "Chrome/" too,
#: and every browser built on WebKit or Blink sends "Safari/".
BROWSERS: tuple[tuple[str, str], ...] = (
    ("Edg/", "Edge"),
    ("EdgA/", "Edge"),
    ("EdgiOS/", "Edge"),
    ("OPR/", "Opera"),
    ("SamsungBrowser/", "Samsung Internet"),
    ("Firefox/", "Firefox"),
    ("FxiOS/", "Firefox"),
    ("Chromium/", "Chromium"),
    ("HeadlessChrome/", "Chrome"),
    ("Chrome/", "Chrome"),
    ("CriOS/", "Chrome"),
    ("Version/", "Safari"),  # Safari alone sends "Version/" with "Safari/"
)

#: Tokens naming a system, most specific first: Android and ChromeOS send "Linux", iPhones "like Mac OS X".
SYSTEMS: tuple[tuple[str, str], ...] = (
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Android", "Android"),
    ("CrOS", "ChromeOS"),
    ("Windows", "Windows"),
    ("Macintosh", "macOS"),
    ("Linux", "Linux"),
)


def _first_found(user_agent: str, tokens: tuple[tuple[str, str], ...]) -> str | None:
    """The name of the first of ``tokens`` found in ``user_agent``, or None.

    :param user_agent: a ``User-Agent`` header.
    :param tokens: ``(token, name)`` pairs, most specific first.
    """
    return next((name for token, name in tokens if token in user_agent), None)


def describe(user_agent: str) -> str:
    """``user_agent`` as its owner would name the browser: "Firefox on Linux", "Safari on iPhone".

    :param user_agent: the ``User-Agent`` a browser sent at log-in (may be empty).
    :returns: the browser and its system when the browser is a known one (a browser on an unknown system
        is named alone); else ``user_agent`` as sent; "Unknown device" when it is empty.
    """
    if not user_agent.strip():
        return "Unknown device"
    # Only a browser's header begins "Mozilla/5.0": a script's own name beats a guess from its tokens.
    browser = _first_found(user_agent, BROWSERS) if user_agent.startswith("Mozilla/") else None
    if browser is None:
        return user_agent
    system = _first_found(user_agent, SYSTEMS)
    return browser if system is None else f"{browser} on {system}"
