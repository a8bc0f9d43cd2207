"""The state database's schema, every table in one place: runs, per-case deviations, tasks and their
history, KPI history, accepted patterns, the delivery outbox, the sinks' links to their tickets and
what those tickets said back.

Creating the tables is ``StateStore``'s job (``metadata.create_all``); the modules that read and
write them import the tables from here, so no storage module needs another one's internals.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

runs = sa.Table(
    "runs", metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("process", sa.String(128), nullable=False, index=True),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("cases", sa.Integer, nullable=False),
    sa.Column("events", sa.Integer, nullable=False),
    sa.Column("fitness", sa.Float),
    sa.Column("conforming_cases", sa.Integer, nullable=False),
    sa.Column("summary_json", sa.Text, nullable=False),
)


deviations = sa.Table(
    "deviations", metadata,
    sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.run_id"), nullable=False, index=True),
    sa.Column("process", sa.String(128), nullable=False),
    sa.Column("case_id", sa.String(255), nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("activity", sa.String(512), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
)


tasks = sa.Table(
    "tasks", metadata,
    sa.Column("task_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("fingerprint", sa.String(64), nullable=False, unique=True),
    sa.Column("process", sa.String(128), nullable=False, index=True),
    sa.Column("pattern_key", sa.String(600), nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("business_object", sa.String(512)),
    sa.Column("owner", sa.String(255), nullable=False),
    sa.Column("kpi_name", sa.Text, nullable=False),
    sa.Column("baseline_value", sa.Float, nullable=False),
    sa.Column("current_value", sa.Float, nullable=False),
    sa.Column("target_value", sa.Float, nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("cases", sa.Integer, nullable=False),
    sa.Column("evidence_json", sa.Text, nullable=False),
    sa.Column("created_run", sa.String(64), nullable=False),
    sa.Column("last_seen_run", sa.String(64), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("baseline_cases", sa.Integer, nullable=False),
    sa.Column("baseline_in_scope", sa.Integer, nullable=False),
    sa.Column("changed_at", sa.DateTime(timezone=True)),  # process time the change was done
    sa.Column("absent_runs", sa.Integer, nullable=False, default=0),
    sa.Column("effect_json", sa.Text),
)


accepted_patterns = sa.Table(
    "accepted_patterns", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("process", sa.String(128), nullable=False, index=True),
    sa.Column("pattern_key", sa.String(600), nullable=False),
    sa.Column("business_object", sa.String(512)),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("accepted_by", sa.String(255), nullable=False),
    sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)

#: Who ended an acceptance before it expired, and why (its expires_at is set to that moment).
acceptance_revocations = sa.Table(
    "acceptance_revocations", metadata,
    sa.Column("acceptance_id", sa.Integer, sa.ForeignKey("accepted_patterns.id"), primary_key=True),
    sa.Column("revoked_by", sa.String(255), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
)


task_history = sa.Table(
    "task_history", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("task_id", sa.Integer, sa.ForeignKey("tasks.task_id"), nullable=False, index=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("run_id", sa.String(64)),
)


kpi_history = sa.Table(
    "kpi_history", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("task_id", sa.Integer, sa.ForeignKey("tasks.task_id"), nullable=False, index=True),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("measured_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("cases", sa.Integer, nullable=False),
    sa.Column("cases_in_scope", sa.Integer, nullable=False),
)


outbox = sa.Table(
    "outbox", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(64), nullable=False, unique=True),
    sa.Column("sink", sa.String(64), nullable=False),
    sa.Column("task_id", sa.Integer, nullable=False, index=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("sequence", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("payload_json", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("claimed_until", sa.DateTime(timezone=True)),
    sa.Column("claim_token", sa.String(32)),
    sa.Column("delivered_at", sa.DateTime(timezone=True)),
    sa.Column("last_error", sa.Text),
    sa.UniqueConstraint("sink", "fingerprint", "sequence", name="uq_outbox_task_sequence"),
    sa.Index("ix_outbox_due", "status", "sink", "next_attempt_at"),
)


sink_links = sa.Table(
    "sink_links", metadata,
    sa.Column("target", sa.String(255), primary_key=True),
    sa.Column("fingerprint", sa.String(64), primary_key=True),
    sa.Column("remote_id", sa.String(255), nullable=False),
    sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
)


#: A run recorded by a night that had still to write its report, with what the report needs of the
#: night's record: a night killed in between leaves its row here, and the next night that finds
#: nothing new completes this run (``pipeline.night``) instead of recording the same night twice.
unreported_runs = sa.Table(
    "unreported_runs", metadata,
    sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.run_id"), primary_key=True),
    sa.Column("process", sa.String(128), nullable=False, index=True),
    sa.Column("changes_json", sa.Text, nullable=False),  # [[task id, change], ...] in record order
    sa.Column("loaded_json", sa.Text, nullable=False),  # the night's load: batch, offered, added, ...
)

#: What the sinks' services said about a linked ticket and was taken in (a comment brought back, a
#: closing that marked the task done), by the service's own id, so that a webhook and a poll, or
#: two polls, never take in the same thing twice; ``remote_at`` (a comment's time) is where the
#: next poll of the ticket lists from (``storage.inbox``).
remote_happenings = sa.Table(
    "remote_happenings", metadata,
    sa.Column("target", sa.String(255), primary_key=True),
    sa.Column("happening", sa.String(255), primary_key=True),
    sa.Column("remote_id", sa.String(255), nullable=False),
    sa.Column("remote_at", sa.DateTime(timezone=True)),
    sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_remote_happenings_ticket", "target", "remote_id"),
)


#: The newest night's findings of each process (its summary as JSON) and a digest of everything
#: they were computed from: a night whose inputs have the same digest found nothing new and repeats
#: them instead of computing them again (``storage.findings``). Derived: deleting a row only makes
#: the next night compute its findings.
night_findings = sa.Table(
    "night_findings", metadata,
    sa.Column("process", sa.String(128), primary_key=True),
    sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.run_id"), nullable=False),
    sa.Column("inputs", sa.String(64), nullable=False),
    sa.Column("summary_json", sa.Text, nullable=False),
    sa.Column("kept_at", sa.DateTime(timezone=True), nullable=False),
)


#: Who made the database, and which state it belongs to (the event store holds the same id):
#: checked when a night starts (``storage.health``).
meta = sa.Table(
    "kaizenflow_meta", metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(255), nullable=False),
)


#: Tables a later version added: ``metadata.create_all`` adds them to a database made before them,
#: so their absence is no damage (``storage.health``).
ADDED_LATER = frozenset({"kaizenflow_meta", "unreported_runs", "remote_happenings", "night_findings"})
