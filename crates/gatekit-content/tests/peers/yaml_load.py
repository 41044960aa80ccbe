"""Loads YAML files with PyYAML's safe loader and prints them as one JSON object keyed by path.

usage: yaml_load.py FILE...
"""
import json
import sys

import yaml

out = {}
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as f:
        out[path] = yaml.safe_load(f)
json.dump(out, sys.stdout, default=str)
