"""Writes the real-world XES corpus beside this script (deterministic): one bending or hazard per file.

Each file is what some tool really writes or what a real log really holds, cut down to a few
events: pm4py's own export (no <extension> declarations, default namespace), ProM-style
declarations, attributes without a key (a public loan-application log has one at line 4930),
unknown attribute types, misplaced and empty elements, values other readers get silently
wrong. tests/test_real_world_xes.py says what each must produce, and compares the figures
with pm4py's where pm4py reads the file. Run it again to regenerate.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent

_PM4PY_HEAD = ('<?xml version="1.0" encoding="UTF-8"?><log xes.version="2.0" '
               'xes.features="nested-attributes" xmlns="http://www.xes-standard.org/">')
_PROM_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<log xes.version="1.0" xes.features="nested-attributes" openxes.version="1.0RC7">
  <extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>
  <extension name="Time" prefix="time" uri="http://www.xes-standard.org/time.xesext"/>
  <extension name="Organizational" prefix="org" uri="http://www.xes-standard.org/org.xesext"/>
  <extension name="Lifecycle" prefix="lifecycle" uri="http://www.xes-standard.org/lifecycle.xesext"/>
  <global scope="trace"><string key="concept:name" value="__INVALID__"/></global>
  <global scope="event"><string key="concept:name" value="__INVALID__"/></global>
  <classifier name="Activity" keys="concept:name"/>
"""


_SECOND = "2024-01-05T10:00:00.000+01:00"


def event(activity: str, time: str, extra: str = "", resource: str = "ann") -> str:
    return (f'    <event>\n      <string key="concept:name" value="{activity}"/>\n'
            f'      <date key="time:timestamp" value="{time}"/>\n'
            f'      <string key="org:resource" value="{resource}"/>\n{extra}    </event>\n')


def trace(case: str, events: list[str], extra: str = "") -> str:
    return f'  <trace>\n    <string key="concept:name" value="{case}"/>\n{extra}{"".join(events)}  </trace>\n'


def prom(body: str) -> str:
    return _PROM_HEAD + body + "</log>\n"


def _standard() -> str:
    return (trace("c1", [event("register", "2024-01-05T09:00:00.000+01:00"),
                         event("check", "2024-01-05T10:00:00.000+01:00"),
                         event("approve", "2024-01-05T11:30:00.000+01:00")])
            + trace("c2", [event("register", "2024-01-06T09:00:00.000+01:00"),
                           event("reject", "2024-01-06T09:45:00.000+01:00")]))


def corpus() -> dict[str, str]:
    pm4py_events = "".join(
        f'<trace><string key="concept:name" value="{case}"/><float key="amount" value="{amount}"/>'
        + "".join(f'<event><date key="time:timestamp" value="2024-02-0{day}T0{hour}:00:00+00:00"/>'
                  f'<string key="concept:name" value="{activity}"/><string key="org:resource" value="bo"/>'
                  f'<string key="lifecycle:transition" value="complete"/></event>'
                  for hour, activity in enumerate(activities, start=1))
        + "</trace>"
        for case, day, amount, activities in (("A1", 1, 120.5, ("create", "send")),
                                              ("A2", 2, 99.0, ("create", "remind", "send")),
                                              ("A3", 3, 10.0, ("create", "send")))
    )
    return {
        # what pm4py.write_xes writes: no <extension> at all, default namespace, one line
        "pm4py_export.xes": _PM4PY_HEAD + pm4py_events + "</log>",
        # ProM-style, with declarations, globals and a classifier: the plain case
        "prom_export.xes": prom(_standard()),
        # a <float> without a key inside an event (as at line 4930 of a public loan log)
        "keyless_attribute.xes": prom(_standard().replace(
            '<string key="org:resource" value="ann"/>\n', '<string key="org:resource" value="ann"/>\n'
            '      <float value="5000.0"/>\n', 1)),
        # attribute types outside the XES standard
        "unknown_types.xes": prom(_standard().replace(
            '<string key="org:resource" value="ann"/>\n', '<string key="org:resource" value="ann"/>\n'
            '      <decimal key="amount" value="12.50"/>\n      <note>checked by phone</note>\n', 1)),
        # an <event> directly under <log>, outside any trace
        "event_outside_trace.xes": prom(event("stray", "2024-01-04T08:00:00.000+01:00") + _standard()),
        # trace attributes written after the trace's events (swapped order)
        "trace_attributes_last.xes": prom(
            "  <trace>\n" + event("register", "2024-01-05T09:00:00.000+01:00")
            + event("approve", "2024-01-05T10:00:00.000+01:00")
            + '    <string key="concept:name" value="c1"/>\n'
            + '    <string key="region" value="north"/>\n  </trace>\n'
            + trace("c2", [event("register", "2024-01-06T09:00:00.000+01:00")])),
        # an empty trace, a trace with attributes but no events, an empty event
        "empty_elements.xes": prom(
            "  <trace></trace>\n" + trace("c0", [])
            + trace("c1", [event("register", "2024-01-05T09:00:00.000+01:00"), "    <event/>\n",
                           event("approve", "2024-01-05T10:00:00.000+01:00")])),
        # an int beyond 64 bits and a NaN float: kept exactly, never 0 or dropped
        "extreme_numbers.xes": prom(_standard().replace(
            '<string key="org:resource" value="ann"/>\n', '<string key="org:resource" value="ann"/>\n'
            '      <int key="reference" value="99999999999999999999999999999"/>\n'
            '      <float key="score" value="NaN"/>\n', 1)),
        # lists and containers (nested attributes), two levels deep
        "nested_attributes.xes": prom(_standard().replace(
            '<string key="org:resource" value="ann"/>\n', '<string key="org:resource" value="ann"/>\n'
            '      <list key="approvers"><values><string key="name" value="kim"/>'
            '<string key="name" value="lee"/></values></list>\n'
            '      <container key="address"><string key="city" value="Ghent"/>'
            '<container key="geo"><float key="lat" value="51.05"/></container></container>\n', 1)),
        # namespaced element names (xes: prefix)
        "namespaced.xes": _PROM_HEAD.replace("<log ", '<xes:log xmlns:xes="http://www.xes-standard.org/" ')
        .replace("<extension", "<xes:extension").replace("<global", "<xes:global")
        .replace("</global>", "</xes:global>").replace("<string", "<xes:string")
        .replace("<classifier", "<xes:classifier")
        + _standard().replace("<trace>", "<xes:trace>").replace("</trace>", "</xes:trace>")
        .replace("<event>", "<xes:event>").replace("</event>", "</xes:event>")
        .replace("<string", "<xes:string").replace("<date", "<xes:date") + "</xes:log>\n",
        # refused: an impossible date, a UTC offset no zone has
        "impossible_date.xes": prom(_standard().replace(_SECOND, "2024-13-45T10:00:00.000+01:00")),
        "offset_beyond_14h.xes": prom(_standard().replace(_SECOND, "2024-01-05T10:00:00.000+14:59")),
    }


if __name__ == "__main__":
    for name, text in corpus().items():
        (HERE / name).write_text(text, encoding="utf-8")
