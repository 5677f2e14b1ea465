"""Domain errors. The library raises these; the CLI turns each into one line and an exit code."""

from __future__ import annotations


class DedupError(Exception):
    """Base class of every error `dedup` raises on purpose."""

    exit_code = 1


class ConfigError(DedupError):
    """A parameter is out of range or inconsistent with another one."""

    exit_code = 2


class InputError(DedupError):
    """An input path is missing or nothing could be read from the inputs."""

    exit_code = 3


class OutputError(DedupError):
    """The output location cannot be used (a file, or a run with another config)."""

    exit_code = 4


class ModelError(DedupError):
    """The semantic channel cannot run: its extra is missing or a model cannot be loaded."""

    exit_code = 5


class IndexStoreError(DedupError):
    """An index folder is missing, damaged, or locked by another writer."""

    exit_code = 6


class IndexConfigError(DedupError):
    """An index was built with another config than the one a query or an add asks for."""

    exit_code = 7
