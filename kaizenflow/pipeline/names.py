"""Every name a process's configuration refers to, checked against its model's and log's vocabulary."""

from __future__ import annotations

from kaizenflow.conformance.models import load_model
from kaizenflow.conformance.vocabulary import NameReference, Vocabulary, unknown_names
from kaizenflow.core.events import ACTIVITY, EventLog
from kaizenflow.pipeline.config import (
    ConfigError,
    FourEyesRule,
    KaizenConfig,
    MandatoryActivityRule,
    Process,
    SegregationOfDutiesRule,
    SlaRule,
)


def name_references(process: Process, position: int) -> list[NameReference]:
    """The activities named by rules and the activity mapping, the attributes named by task scopes
    and owner routing, each with its configuration path.

    A forbidden activity is left out: that neither the model nor the log has it is the point.
    """
    at = f"processes.{position}"
    found = []
    for number, rule in enumerate(process.rules):
        where = f"{at}.rules.{number}"
        if isinstance(rule, SlaRule):
            found += [NameReference(f"{where}.from", rule.from_activity, "activity"),
                      NameReference(f"{where}.to", rule.to_activity, "activity")]
        elif isinstance(rule, SegregationOfDutiesRule | FourEyesRule):
            found += [NameReference(f"{where}.activities.{i}", name, "activity")
                      for i, name in enumerate(rule.activities)]
        elif isinstance(rule, MandatoryActivityRule):
            found.append(NameReference(f"{where}.activity", rule.activity, "activity"))
    for log_name, model_name in process.activity_mapping.items():
        found += [NameReference(f"{at}.activity_mapping", log_name, "log activity"),
                  NameReference(f"{at}.activity_mapping.{log_name}", model_name, "model activity")]
    tasks = process.tasks
    found += [NameReference(f"{at}.tasks.scope_attributes.{i}", name, "attribute")
              for i, name in enumerate(tasks.scope_attributes)]
    found += [NameReference(f"{at}.tasks.owners.by_attribute", name, "attribute")
              for name in tasks.owners.by_attribute]
    return found


def check_names(config: KaizenConfig, process: Process, log: EventLog) -> None:
    """Refuse (ConfigError, one line) a configuration naming activities or attributes that neither the
    model nor ``log`` (as read, before the activity mapping) has; an empty log checks model names only."""
    references = name_references(process, config.processes.index(process))
    if not references:
        return
    model = load_model(config.path(process.model))
    raw = frozenset(str(name) for name in log.events[ACTIVITY].dropna().unique())
    mapping = process.activity_mapping
    vocabulary = Vocabulary(
        model_activities=model.activities, log_activities=raw,
        mapped_log_activities=frozenset(mapping.get(name, name) for name in raw),
        attributes=frozenset(str(name) for name in log.case_attributes.columns),
        log_known=not log.events.empty,
    )
    problems = unknown_names(references, vocabulary)
    if problems:
        more = f" (and {len(problems) - 1} more: {'; '.join(problems[1:])})" if len(problems) > 1 else ""
        raise ConfigError(problems[0] + more)
