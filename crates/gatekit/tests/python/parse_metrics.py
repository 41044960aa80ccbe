"""Parses an OpenMetrics/Prometheus text scrape (stdin) with prometheus_client's own parser and
prints every sample as one JSON object: {"name{label=value,...}": value}. A scrape the parser
refuses makes this script fail, which fails the calling test."""
import json
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families

text = sys.stdin.read()
samples = {}
for family in text_string_to_metric_families(text):
    for s in family.samples:
        labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
        samples[f"{s.name}{{{labels}}}"] = s.value
json.dump(samples, sys.stdout)
