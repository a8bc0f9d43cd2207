"""Whether the log and the designed model name the same activities, suggestions where they nearly do,
and which names a configuration refers to that neither has."""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class VocabularyReport:
    """Activities the model and the log do not share, after the explicit mapping is applied.

    A model activity never seen in the log is often a misspelt or unmapped name rather than work
    nobody did, and a log activity unknown to the model shows up as an "inserted" deviation in
    every case that has it: both are worth fixing before the first deviation is believed.
    ``suggestions`` (log name → model name) are only suggestions; nothing applies them.
    """

    unseen_model_activities: tuple[str, ...]
    unknown_log_activities: tuple[str, ...]
    suggestions: Mapping[str, str] = field(default_factory=dict)
    unknown_mapping_targets: tuple[str, ...] = ()
    unused_mapping_keys: tuple[str, ...] = ()

    @property
    def matches(self) -> bool:
        return not (self.unseen_model_activities or self.unknown_log_activities
                    or self.unknown_mapping_targets)

    def describe(self) -> str:
        if self.matches and not self.unused_mapping_keys:
            return "The log and the model name the same activities."
        lines = []
        if self.unknown_log_activities:
            lines.append(f"{_count(self.unknown_log_activities, 'log activity', 'log activities')} "
                         f"unknown to the model: {_names(self.unknown_log_activities)}.")
        if self.unseen_model_activities:
            lines.append(f"{_count(self.unseen_model_activities, 'model activity', 'model activities')} "
                         f"never seen in the log: {_names(self.unseen_model_activities)}.")
        if self.unknown_mapping_targets:
            lines.append(f"The activity mapping points to names the model does not have: "
                         f"{_names(self.unknown_mapping_targets)}.")
        if self.unused_mapping_keys:
            lines.append(f"The activity mapping renames activities the log does not have: "
                         f"{_names(self.unused_mapping_keys)}.")
        if self.suggestions:
            pairs = "; ".join(f"{log!r} → {model!r}" for log, model in sorted(self.suggestions.items()))
            lines.append(f"Possibly the same activity (add to the activity mapping if so): {pairs}.")
        return "\n".join(lines)


def compare_vocabulary(
    model_activities: Iterable[str], log_activities: Iterable[str], mapping: Mapping[str, str] | None = None
) -> VocabularyReport:
    """Compare the model's activity names with the log's once ``mapping`` (log → model) renamed them."""
    mapping = dict(mapping or {})
    model = set(model_activities)
    log = set(log_activities)
    mapped = {mapping.get(name, name) for name in log}
    unknown = sorted(mapped - model)
    unseen = sorted(model - mapped)
    return VocabularyReport(
        unseen_model_activities=tuple(unseen),
        unknown_log_activities=tuple(unknown),
        suggestions=suggest_mapping(unseen, unknown),
        unknown_mapping_targets=tuple(sorted(set(mapping.values()) - model)),
        unused_mapping_keys=tuple(sorted(set(mapping) - log)),
    )


def suggest_mapping(model_activities: Iterable[str], log_activities: Iterable[str]) -> dict[str, str]:
    """Log names that equal exactly one model name but for case, spaces and punctuation.

    Only unambiguous pairs are suggested: two model names with the same key, or two log names
    for one model name, suggest nothing, since guessing there could merge different work.
    """
    by_key: dict[str, list[str]] = {}
    for name in set(model_activities):
        by_key.setdefault(normalized(name), []).append(name)
    candidates: dict[str, list[str]] = {}
    for name in set(log_activities):
        models = by_key.get(normalized(name), [])
        if len(models) == 1 and models[0] != name:
            candidates.setdefault(models[0], []).append(name)
    return {logs[0]: model for model, logs in candidates.items() if len(logs) == 1}


def normalized(name: str) -> str:
    """The name's letters and digits only, case-folded: "Approve P.O." and "approve_po" agree."""
    text = unicodedata.normalize("NFKC", name).casefold()
    return "".join(ch for ch in text if ch.isalnum())


def _count(names: tuple[str, ...], one: str, many: str) -> str:
    return f"1 {one}" if len(names) == 1 else f"{len(names)} {many}"


def _names(names: tuple[str, ...]) -> str:
    return ", ".join(repr(name) for name in names)


@dataclass(frozen=True)
class NameReference:
    """A name the configuration refers to, where (its config path), and what it must name.

    ``kind`` is ``activity`` (a name of the model or of the log after the mapping), ``log
    activity`` (a name as the log has it, before the mapping), ``model activity`` or
    ``attribute`` (a case attribute).
    """

    path: str
    name: str
    kind: str


@dataclass(frozen=True)
class Vocabulary:
    """The names a configuration may refer to: the model's, the log's (raw and mapped), attributes.

    ``log_known`` is False when there is no log yet to tell: then only model names are checked.
    """

    model_activities: frozenset[str]
    log_activities: frozenset[str]
    mapped_log_activities: frozenset[str]
    attributes: frozenset[str]
    log_known: bool = True

    def known(self, kind: str) -> frozenset[str] | None:
        """The names a reference of this kind may use; None when they cannot be told yet."""
        if kind == "model activity":
            return self.model_activities
        if kind == "activity":
            return self.model_activities | self.mapped_log_activities
        if not self.log_known:
            return None
        return self.log_activities if kind == "log activity" else self.attributes


def unknown_names(references: Iterable[NameReference], vocabulary: Vocabulary) -> list[str]:
    """One message per reference to a name the vocabulary lacks, with the closest known names.

    A misspelt activity in a rule never fires and a misspelt mapping renames nothing; both pass
    silently unless refused here, e.g. ``processes.0.rules.2.activities.1: unknown activity
    'Approve Purchase Ordr' (closest: 'Approve Purchase Order')``.
    """
    messages = []
    for reference in references:
        known = vocabulary.known(reference.kind)
        if known is None or reference.name in known:
            continue
        close = difflib.get_close_matches(reference.name, sorted(known), n=3, cutoff=0.6)
        if not close:  # case, spaces and punctuation: "approve_po" against "Approve PO"
            key = normalized(reference.name)
            close = sorted(name for name in known if normalized(name) == key)[:3]
        if close:
            hint = f" (closest: {_names(tuple(close))})"
        elif known:
            hint = f" (known: {_names(tuple(sorted(known)[:6]))}{', ...' if len(known) > 6 else ''})"
        else:
            hint = ""
        messages.append(f"{reference.path}: unknown {reference.kind} {reference.name!r}{hint}")
    return messages
