"""The Grafana dashboard (deploy/grafana) asks only for metrics the service exports."""
import json
import os
import re

import requests

DASHBOARD = os.path.join(os.path.dirname(__file__), "..", "..", "deploy", "grafana", "offload-http.json")
# Functions, keywords and label names of PromQL that look like identifiers.
PROMQL_WORDS = {"sum", "by", "rate", "histogram_quantile", "le", "without", "label_values"}


def metric_names(expression):
    expression = re.sub(r'"[^"]*"', '""', expression)       # label values
    expression = re.sub(r"\{[^}]*\}", "", expression)        # label matchers
    expression = re.sub(r"\[[^\]]*\]", "", expression)       # ranges
    expression = re.sub(r"\(\s*[a-z_, ]*\)\s*\(", "(", expression)  # by (a, b) (
    return {word for word in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expression)
            if word not in PROMQL_WORDS and "_" in word}


def test_every_metric_the_dashboard_queries_is_in_metrics(service):
    # Counters and histograms appear once they have a value: run a job and a failing one.
    assert requests.post(service + "/encrypt", data=b"ASYNC-OK", timeout=10).status_code == 200
    assert requests.post(service + "/encrypt", data=b"", timeout=10).status_code == 400
    exposition = requests.get(service + "/metrics", timeout=10).text
    exported = {line.split("{")[0].split(" ")[0] for line in exposition.splitlines()
                if line and not line.startswith("#")}
    with open(DASHBOARD) as file:
        dashboard = json.load(file)
    queried = set()
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            queried |= metric_names(target["expr"])
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            queried |= metric_names(variable["query"])
    assert queried >= {"offload_http_requests_total", "offload_jobs_total", "offload_jobs_in_flight",
                       "offload_device_queue_depth", "process_resident_memory_bytes", "process_open_fds"}
    missing = sorted(name for name in queried if name not in exported)
    assert not missing, f"the dashboard queries metrics /metrics does not have: {missing}"
