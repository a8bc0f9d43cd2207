"""Counted read warnings: what a lenient reader bent to load a file (skipped, kept as text, assumed).

Readers of files written by other tools (pm4py, ProM, ERP exports) load what is meaningful and
skip what is not, the way those tools do; every such bending is counted here under a stable
code, with the first place it happened, so that ``kaizen inspect``/``check`` and a night's run
manifest can say exactly what was bent. In strict mode the first bending is a ``SourceError``
naming the file, the line and the reason instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from kaizenflow.sources.mapping import SourceError


@dataclass(frozen=True)
class ReadWarning:
    """One kind of bending: a stable ``code``, a ``message`` for people, how often, and where first."""

    code: str
    message: str
    count: int
    first_line: int | None = None

    def to_dict(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message, "count": self.count,
                "first_line": self.first_line}

    def line(self) -> str:
        where = f", first at line {self.first_line}" if self.first_line is not None else ""
        return f"{self.message} ({self.count:,}x{where})"


@dataclass
class _Tally:
    message: str
    count: int
    line: int | None


class Bendings:
    """The collector a reader reports bendings to; strict readers refuse at the first one instead."""

    def __init__(self, where: str, *, strict: bool = False) -> None:
        self.where = where
        self.strict = strict
        self._seen: dict[str, _Tally] = {}

    def bend(self, code: str, what: str, action: str, line: int | None = None, *,
             refusal: str | None = None) -> None:
        """Count one bending: ``what`` was found (first occurrence, with its key or element), ``action``
        is what the reader did about it. Strict mode refuses instead, saying ``refusal`` (or ``what``).
        """
        message = f"{what}: {action}"
        if self.strict:
            at = f"line {line}, " if line is not None else ""
            raise SourceError(f"{self.where}: {at}{refusal or what} (refused in strict mode; without "
                              f"--strict it is {action.split(',')[0]})")
        tally = self._seen.get(code)
        if tally is None:
            self._seen[code] = _Tally(message, 1, line)
        else:
            tally.count += 1

    def add(self, warning: ReadWarning) -> None:
        """Merge a warning counted elsewhere (the fast path counts in bulk)."""
        if self.strict:
            at = f"line {warning.first_line}, " if warning.first_line is not None else ""
            raise SourceError(f"{self.where}: {at}{warning.message} (refused in strict mode)")
        tally = self._seen.get(warning.code)
        if tally is None:
            self._seen[warning.code] = _Tally(warning.message, warning.count, warning.first_line)
        else:
            tally.count += warning.count

    @property
    def warnings(self) -> tuple[ReadWarning, ...]:
        return tuple(ReadWarning(code, t.message, t.count, t.line) for code, t in self._seen.items())
