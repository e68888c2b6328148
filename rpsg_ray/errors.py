"""User-facing errors: one line, naming file/row/field and reason, never private text."""


class RpsgError(Exception):
    """An error the CLI prints as one line (no traceback)."""


class InputError(RpsgError):
    """The input cannot be read as a seed corpus."""


class ConfigError(RpsgError):
    """The configuration is invalid."""


class ResumeError(RpsgError):
    """A run directory cannot be resumed with this configuration."""
