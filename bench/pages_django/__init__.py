"""The Django app of ``bench_pages``: the notes of its form POST (the project is the generated module)."""
