"""Applies TA-gatekit's search-time extractions to sample lines, the way Splunk does for the
subset the add-on uses: the REPORT- transforms of a sourcetype (REGEX with FORMAT
`name::$n ...`, or `$1::$2` for every match), KV_MODE = json (nested keys as `a.b`; a HEC
envelope's `event` is the raw event), then its FIELDALIAS- pairs.

usage: splunk_extract.py APP_DIR SOURCETYPE SAMPLES_FILE  -> JSON list, one object per line.
"""
import configparser
import json
import re
import sys


def read_conf(path):
    conf = configparser.ConfigParser(
        interpolation=None, delimiters=("=",), comment_prefixes=("#",), strict=True
    )
    conf.optionxform = str
    with open(path, encoding="utf-8") as f:
        conf.read_file(f)
    return conf


def apply_transform(stanza, line, fields):
    regex = re.compile(stanza["REGEX"])
    fmt = stanza["FORMAT"].strip()
    if fmt == "$1::$2":
        for m in regex.finditer(line):
            fields.setdefault(m.group(1), m.group(2))
        return
    m = regex.search(line)
    if not m:
        return
    for part in fmt.split():
        name, _, ref = part.partition("::")
        fields[name] = m.group(int(ref.lstrip("$")))


def flatten(prefix, value, fields):
    if isinstance(value, dict):
        for k, v in value.items():
            flatten(f"{prefix}.{k}" if prefix else k, v, fields)
    elif isinstance(value, bool):
        fields[prefix] = "true" if value else "false"
    elif value is not None:
        fields[prefix] = str(value)


def main():
    app, sourcetype, samples = sys.argv[1:4]
    props = read_conf(f"{app}/default/props.conf")[sourcetype]
    transforms = read_conf(f"{app}/default/transforms.conf")
    out = []
    with open(samples, encoding="utf-8") as f:
        lines = [l.rstrip("\n") for l in f if l.strip()]
    for line in lines:
        fields = {}
        if props.get("KV_MODE", "").strip() == "json":
            event = json.loads(line)
            if "event" in event and "sourcetype" in event:
                event = event["event"]
            flatten("", event, fields)
        for key, value in props.items():
            if key.startswith("REPORT-"):
                for name in value.split(","):
                    apply_transform(transforms[name.strip()], line, fields)
        for key, value in props.items():
            if key.startswith("FIELDALIAS-"):
                words = value.split()
                for i in range(0, len(words), 3):
                    src, as_, dst = words[i : i + 3]
                    assert as_ == "AS", value
                    if src in fields:
                        fields[dst] = fields[src]
        out.append(fields)
    json.dump(out, sys.stdout)


main()
