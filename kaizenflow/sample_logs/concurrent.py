"""A claims process with much concurrency and loops, played out by seed with noise: hard alignments.

The purchase-to-pay simulator writes ERP tables of a mostly sequential process; this one writes an
event log straight away, of a process tree whose parallel branches and redo loops make the number
of variants large and whose noise (activities dropped, swapped, repeated or inserted) makes
aligning them costly. The same seed always gives the same log.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd


@dataclass(frozen=True)
class Node:
    """A process-tree node: an activity (``label``), or an operator over ``children``.

    Operators: ``seq`` (in order), ``xor`` (one of), ``and`` (interleaved), ``loop`` (the first
    child, then any number of times the second child and the first again).
    """

    operator: str = ""
    children: tuple[Node, ...] = ()
    label: str = ""


def act(label: str) -> Node:
    return Node(label=label)


def seq(*children: Node) -> Node:
    return Node("seq", children)


def xor(*children: Node) -> Node:
    return Node("xor", children)


def par(*children: Node) -> Node:
    return Node("and", children)


def loop(body: Node, redo: Node) -> Node:
    return Node("loop", (body, redo))


#: Register, triage, three branches at once (documents with reminders, a risk assessment, an
#: expert review that may be redone), then notification and archiving at once, and a decision.
CLAIMS = seq(
    act("Register claim"),
    xor(act("Check basic"), seq(act("Check extended"), act("Consult expert"))),
    par(
        seq(act("Verify identity"), loop(act("Request documents"), act("Send reminder"))),
        seq(act("Assess risk"), xor(act("Low risk"), act("High risk"))),
        loop(act("Review claim"), act("Rework claim")),
        act("Estimate damage"),
    ),
    par(act("Notify customer"), act("Archive documents"), act("Update ledger")),
    xor(act("Approve claim"), act("Reject claim")),
    act("Close claim"),
)


def labels(node: Node) -> list[str]:
    """The tree's activities, in the order they are written."""
    if node.label:
        return [node.label]
    return [label for child in node.children for label in labels(child)]


def play(node: Node, rng: random.Random, loop_again: float = 0.35) -> list[str]:
    """One run of ``node``; a loop goes round again with probability ``loop_again``, at most thrice."""
    if node.label:
        return [node.label]
    if node.operator == "seq":
        return [a for child in node.children for a in play(child, rng, loop_again)]
    if node.operator == "xor":
        return play(rng.choice(node.children), rng, loop_again)
    if node.operator == "loop":
        body, redo = node.children
        run = play(body, rng, loop_again)
        for _ in range(3):
            if rng.random() >= loop_again:
                break
            run += play(redo, rng, loop_again) + play(body, rng, loop_again)
        return run
    # and: a random interleaving that keeps each branch's own order
    branches = [play(child, rng, loop_again) for child in node.children]
    slots = [i for i, branch in enumerate(branches) for _ in branch]
    rng.shuffle(slots)
    cursors = [0] * len(branches)
    run = []
    for i in slots:
        run.append(branches[i][cursors[i]])
        cursors[i] += 1
    return run


def add_noise(run: list[str], rng: random.Random, vocabulary: list[str], noise: float) -> list[str]:
    """With probability ``noise``, one to three edits: drop, swap neighbours, repeat or insert."""
    run = list(run)
    if rng.random() >= noise:
        return run
    for _ in range(rng.randint(1, 3)):
        where = rng.randrange(len(run))
        edit = rng.randrange(4)
        if edit == 0 and len(run) > 2:
            del run[where]
        elif edit == 1 and where + 1 < len(run):
            run[where], run[where + 1] = run[where + 1], run[where]
        elif edit == 2:
            run.insert(where, run[where])
        else:
            run.insert(where, rng.choice(vocabulary))
    return run


def claims_log(cases: int, seed: int = 7, noise: float = 0.3, tree: Node = CLAIMS) -> pd.DataFrame:
    """``cases`` played-out cases with noise: columns case_id, activity, timestamp (UTC, minutes apart)."""
    rng = random.Random(seed)
    vocabulary = labels(tree)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    case_ids, activities, stamps = [], [], []
    for number in range(cases):
        run = add_noise(play(tree, rng), rng, vocabulary, noise)
        began = start + timedelta(minutes=17 * number)
        for position, activity in enumerate(run):
            case_ids.append(f"claim-{number:07d}")
            activities.append(activity)
            stamps.append(began + timedelta(minutes=position))
    return pd.DataFrame({"case_id": case_ids, "activity": activities,
                         "timestamp": pd.to_datetime(stamps, utc=True)})
