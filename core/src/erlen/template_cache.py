"""Compiled templates kept on disk, so that a worker loads a template's code instead of compiling it again.

Jinja compiles each template to Python code the first time a process loads
it: it generates the code's source and runs Python's ``compile()`` on it. Every
worker of every host paid that again, in time on its first pages and in memory:
the compiler's passes leave the heap about 1 MiB larger for good (freed, but
kept by the allocator between the objects that stay). With
:data:`TEMPLATE_CACHE <erlen.builtin>` on (the default), the first process of
a host writes each template's code to a folder, through Jinja's own
:class:`jinja2.FileSystemBytecodeCache` (written to a temporary file and
renamed, so that no process reads half a file), and the others load it.

A cached template is found again only when nothing that made its code has
changed: the source (Jinja compares a checksum of it), Python's version
(Jinja's file header), and here also Jinja's version and the environment's
options the code depends on (its delimiters and whitespace options, its
extensions, ``finalize`` and whether the template is autoescaped), so that two
apps sharing the folder, or one app whose options changed, never run each
other's code.

The cache never fails a page: when the folder cannot be made, is not the app
user's own, or cannot be read or written, one warning names the setting and
the templates are compiled in each process, as without the cache.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import stat
import threading
import typing as t

import jinja2
from flask import Flask
from jinja2.bccache import Bucket, BytecodeCache, FileSystemBytecodeCache

if t.TYPE_CHECKING:
    from jinja2 import Environment

logger = logging.getLogger("erlen.templates")

#: The name of the files in the folder: ``%s`` is the key of a template and its options.
FILE_PATTERN = "__erlen_jinja_%s.cache"


class TemplateCache(BytecodeCache):
    """Jinja's :class:`~jinja2.FileSystemBytecodeCache`, keyed by the options the code depends on, that never
    fails a page.

    The folder is made and checked on first use (not when the app is created, so that ``erlen --help`` and
    apps that render nothing touch no disk).

    :param directory: the folder, made (mode 700) when missing; ``None``: a folder of the user's own in the
        system's temporary folder (``_jinja2-cache-<uid>``, made and checked by Jinja).
    :param setting: the setting that names the folder, for the warning.
    """

    def __init__(self, directory: str | None, *, setting: str = "TEMPLATE_CACHE_DIR") -> None:
        self.directory = directory
        self.setting = setting
        self._files: FileSystemBytecodeCache | None = None
        self._off = False
        self._lock = threading.RLock()  # _turn_off is called with it held too

    def get_bucket(self, environment: Environment, name: str, filename: str | None, source: str) -> Bucket:
        """The bucket of a template, its code loaded from the folder when the folder has it for these options.

        :param environment: the environment loading the template.
        :param name: the template's name.
        :param filename: the template's file, or ``None`` for a loader without files.
        :param source: the template's source.
        """
        key = self.get_cache_key(f"{name}\0{compile_options(environment, name)}", filename)
        bucket = Bucket(environment, key, self.get_source_checksum(source))
        self.load_bytecode(bucket)
        return bucket

    def load_bytecode(self, bucket: Bucket) -> None:
        """Give ``bucket`` the code its file holds, if the file is there and was written for its source.

        :param bucket: the template's bucket.
        """
        files = self._files_or_none()
        if files is None:
            return
        try:
            files.load_bytecode(bucket)
        except (EOFError, pickle.UnpicklingError, ValueError):
            bucket.reset()  # A damaged file: compiled again and written anew.
        except OSError as exc:
            self._turn_off(f"reading {files.directory} failed: {exc}")

    def dump_bytecode(self, bucket: Bucket) -> None:
        """Write the code of ``bucket`` to its file.

        :param bucket: the template's bucket, with its code.
        """
        files = self._files_or_none()
        if files is None:
            return
        try:
            files.dump_bytecode(bucket)
        except OSError as exc:
            self._turn_off(f"writing to {files.directory} failed: {exc}")

    def clear(self) -> None:
        """Remove every template's code from the folder."""
        files = self._files_or_none()
        if files is not None:
            files.clear()

    def _files_or_none(self) -> FileSystemBytecodeCache | None:
        if self._files is not None or self._off:
            return self._files
        with self._lock:
            if self._files is None and not self._off:
                try:
                    self._files = FileSystemBytecodeCache(_private_folder(self.directory), FILE_PATTERN)
                except (OSError, RuntimeError) as exc:
                    self._turn_off(str(exc))
        return self._files

    def _turn_off(self, reason: str) -> None:
        with self._lock:
            already_off, self._off, self._files = self._off, True, None
        if not already_off:
            logger.warning(
                "Compiled templates are not cached: %s. Pages still work; each process compiles its templates. "
                "Set %s to a folder only the app's user may write to, or TEMPLATE_CACHE = false.",
                reason,
                self.setting,
            )


def _private_folder(directory: str | None) -> str | None:
    """``directory`` made if missing, once it is the user's own and nobody else may write to it.

    :param directory: the folder, or ``None`` for Jinja's default (checked by Jinja).
    :raises RuntimeError: the folder is not a folder, is someone else's, or others may write to it: the app
        would run the code they put there.
    :raises OSError: the folder cannot be made or read.
    """
    if directory is None:
        return None
    os.makedirs(directory, mode=0o700, exist_ok=True)
    status = os.stat(directory)
    if not stat.S_ISDIR(status.st_mode):
        raise RuntimeError(f"{directory} is not a folder")
    if status.st_uid != os.getuid():
        raise RuntimeError(f"{directory} belongs to another user (uid {status.st_uid})")
    if status.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise RuntimeError(
            f"others may write to {directory} (mode {stat.S_IMODE(status.st_mode):o}), and the app would run "
            "the code they put there"
        )
    return directory


#: Environment attributes that are not options of the compiled code.
_NOT_OPTIONS = frozenset({"auto_reload", "cache", "shared"})


def compile_options(environment: Environment, name: str | None) -> str:
    """What the code Jinja compiles for template ``name`` depends on besides its source and Python's version.

    Jinja's version; the environment's options and policies of simple values (delimiters, whitespace
    handling, line statements, optimizer, async, ``compiler.ascii_str``, and what extensions add, such as
    ``newstyle_gettext``); its extensions, code generator and ``finalize``; whether ``name`` is autoescaped.

    :param environment: the environment compiling the template.
    :param name: the template's name.
    """
    autoescape = environment.autoescape
    escaped = bool(autoescape(name) if callable(autoescape) else autoescape)
    options = sorted(
        (key, value)
        for key, value in vars(environment).items()
        if key not in _NOT_OPTIONS and (value is None or type(value) in (bool, int, float, str))
    )
    policies = sorted(
        (key, value) for key, value in environment.policies.items() if value is None or type(value) in (bool, int, str)
    )
    finalize = environment.finalize
    described = (
        jinja2.__version__,
        escaped,
        options,
        policies,
        sorted(environment.extensions),
        _qualified(environment.code_generator_class),
        None if finalize is None else _qualified(finalize),
    )
    return hashlib.sha1(repr(described).encode(), usedforsecurity=False).hexdigest()


def _qualified(value: t.Any) -> str:
    return f"{getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', type(value).__qualname__)}"


def install(app: Flask) -> None:
    """Give ``app``'s templates the cache its settings ask for, unless its environment has a cache already.

    :param app: the app, with ``TEMPLATE_CACHE`` and ``TEMPLATE_CACHE_DIR`` set.
    """
    environment = app.jinja_env
    if app.config.get("TEMPLATE_CACHE", True) and environment.bytecode_cache is None:
        environment.bytecode_cache = TemplateCache(app.config.get("TEMPLATE_CACHE_DIR"))
