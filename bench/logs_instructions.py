"""Instructions per hello-world request of a core-only Erlen app, counted by callgrind: the cost of the log settings.

Not one of ``run.py``'s suites: a check for the logging work (issue 18, point 5), whose target is that with
``LOG_FORMAT`` left at ``"text"`` a request costs within 1% of the code before it.

Run from the repository's root with valgrind installed::

    python bench/logs_instructions.py                     # default settings (the text format, no request ids)
    python bench/logs_instructions.py '{"LOG_FORMAT": "json"}'

The first argument is the app's configuration, as JSON. Each run prints the instructions per request:
one run under callgrind (:func:`harness.instructions_by_part`) builds the app and warms it up, then sends
:data:`REQUESTS` requests between two marks; their count divided by :data:`REQUESTS` is the figure.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

#: The requests counted.
REQUESTS = 5000


def calls(config: str, count: int) -> None:
    """Build the app and send it ``count`` hello-world requests in-process (run under callgrind)."""
    import harness

    import erlen

    app = erlen.create_app("hello", json.loads(config), environ={})
    app.add_url_rule("/", "hello", lambda: "Hello, World!")
    call = harness.wsgi_caller(app.wsgi_app, [harness.wsgi_environ("/")])
    for _ in range(200):  # warm up: imports and caches the first requests fill
        call()
    harness.mark()
    for _ in range(count):
        call()
    harness.mark()


def main() -> None:
    """Count the instructions per request of the app configured by the first argument."""
    here = Path(__file__).resolve().parent
    sys.path.insert(0, str(here))
    if len(sys.argv) == 4 and sys.argv[1] == "--calls":  # the run under callgrind
        calls(sys.argv[2], int(sys.argv[3]))
        return
    import harness

    import erlen

    # Bytecode first: otherwise the first run compiles erlen's modules and the difference of the two is noise.
    harness.compile_tree(Path(erlen.__file__).resolve().parent)
    config = sys.argv[1] if len(sys.argv) > 1 else "{}"
    parts = harness.instructions_by_part(
        [sys.executable, str(Path(__file__).resolve()), "--calls", config, str(REQUESTS)],
        marks=2,
        cwd=here,
        env=harness.clean_env(PYTHONHASHSEED="0"),
        timeout=1800,
    )
    per_request = parts[1] / REQUESTS
    print(f"{config}: {per_request:,.0f} instructions per request")


if __name__ == "__main__":
    main()
