"""Where a worker's memory goes, package by package: Erlen's apps against the classic stack's.

Runs ``bench_startup``'s worker (``rss.py``: create the app, answer N requests
for the log-in page in-process) under :mod:`tracemalloc`, with each module's
execution timed by an import hook: what a module's import leaves allocated,
less what the modules it imports leave, is that module's (its code, classes,
models, tables and whatever it builds at import). What the app's creation and
its requests leave outside any import is the row ``(app and requests)``.
Memory that Python frees but the allocator keeps is not traced, so the totals
are below ``VmRSS``; the differences between contenders are what to read.

Run: ``python bench/memory_by_package.py [--requests 2000] [--top 25] [six three classic ...]``.
Each contender runs in its own process, on SQLite, after an uncounted run that
writes its bytecode (as ``bench_startup`` does).
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
import typing as t
from pathlib import Path

import bench_startup
import harness

#: Run as ``python traced.py WHICH N [CLASSIC_DB_URL]``: ``rss.py`` under tracemalloc, printing JSON.
TRACED_SCRIPT = textwrap.dedent(
    """
    import collections
    import json
    import runpy
    import sys
    import tracemalloc
    from importlib import _bootstrap_external

    tracemalloc.start()
    by_module = collections.Counter()
    nested = []
    exec_module = _bootstrap_external.SourceFileLoader.exec_module


    def traced_exec_module(loader, module):
        nested.append(0)
        before = tracemalloc.get_traced_memory()[0]
        try:
            return exec_module(loader, module)
        finally:
            grown = tracemalloc.get_traced_memory()[0] - before
            by_module[module.__name__] += grown - nested.pop()
            if nested:
                nested[-1] += grown


    _bootstrap_external.SourceFileLoader.exec_module = traced_exec_module
    sys.argv = ["rss.py", *sys.argv[1:]]
    runpy.run_path("rss.py", run_name="__main__")
    total = tracemalloc.get_traced_memory()[0]
    by_package = collections.Counter()
    for name, size in by_module.items():
        by_package[name.partition(".")[0]] += size
    by_package["(app and requests)"] = total - sum(by_module.values())
    print(json.dumps({"total": total, "packages": dict(by_package), "modules": dict(by_module)}))
    """
)


class Traced(t.TypedDict):
    """What ``traced.py`` prints: bytes traced in all, by top-level package and by module."""

    total: int
    packages: dict[str, int]
    modules: dict[str, int]


def measure(root: Path, which: str, requests: int) -> Traced:
    """One contender's traced memory, by package and by module, from a process of its own.

    :param root: the folder holding the generated apps and scripts.
    :param which: ``rss.py``'s name of the contender (``six``, ``three``, ``classic``...).
    :param requests: how many log-in pages it answers.
    """
    env = bench_startup.app_env(root, "six" if which in ("six", "three") else "rss")
    argv = [sys.executable, "traced.py", which, str(requests), f"sqlite:///{root / 'classic.sqlite3'}"]
    harness.run_checked([*argv[:3], "1", argv[4]], cwd=root, env=env, timeout=600)
    out, _ = harness.run_checked(argv, cwd=root, env=env, timeout=600)
    return t.cast(Traced, json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("contenders", nargs="*", default=["classic", "three", "six"])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--top", type=int, default=25, help="packages shown, the largest differences first")
    args = parser.parse_args()
    with harness.module_dir("erlen-bench-memory-") as root:
        (root / "rss.py").write_text(bench_startup.RSS_SCRIPT, encoding="utf-8")
        (root / "six_app.py").write_text(bench_startup.SIX_APP, encoding="utf-8")
        (root / "three_app.py").write_text(bench_startup.THREE_APP, encoding="utf-8")
        (root / "traced.py").write_text(TRACED_SCRIPT, encoding="utf-8")
        bench_startup.migrate(root, "six_app", bench_startup.app_env(root, "six"))
        results = {which: measure(root, which, args.requests) for which in args.contenders}
    names = {name for result in results.values() for name in result["packages"]}
    first = args.contenders[0]

    def kib(which: str, name: str) -> float:
        return results[which]["packages"].get(name, 0) / 1024

    spread = sorted(names, key=lambda name: -max(abs(kib(w, name) - kib(first, name)) for w in args.contenders))
    print(f"Traced memory (KiB) after {args.requests:,} log-in pages, by top-level package")
    print(f"  {'package':<24}" + "".join(f"{which:>12}" for which in args.contenders))
    for name in spread[: args.top]:
        print(f"  {name:<24}" + "".join(f"{kib(which, name):12.0f}" for which in args.contenders))
    print(f"  {'total':<24}" + "".join(f"{results[which]['total'] / 1024:12.0f}" for which in args.contenders))


if __name__ == "__main__":
    main()
