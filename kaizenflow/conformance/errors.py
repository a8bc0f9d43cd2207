"""The error every model reader raises: it names the file and, where known, the element."""


class ModelError(ValueError):
    """The designed model cannot be used; the message names the file and, if known, the element."""
