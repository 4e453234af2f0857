#!/usr/bin/env bash
# check.sh - checks everything under deploy/ that can be checked without a cluster or a
# container engine. Exits non-zero on the first kind of failure it finds (after reporting all).
#
#   1. Prometheus: promtool check rules + promtool test rules (alerts_test.yml), and the
#      Kubernetes PrometheusRule holds the same groups as alerts.yml;
#   2. every YAML and JSON file under deploy/ parses (python3 with PyYAML);
#   3. every PromQL expression of the Grafana dashboard parses (through promtool, as recording
#      rules with Grafana's variables filled in);
#   4. every binlog_relay_* metric name used by the alerts and the dashboard is documented in
#      docs/metrics.md (histogram suffixes _bucket/_sum/_count folded onto their histogram);
#   5. kubectl kustomize builds deploy/kubernetes, where kubectl exists;
#   6. systemd-analyze verify on the unit (ExecStart pointed at a stub, since the binary need not
#      be installed here), where systemd-analyze exists.
#
# Needs: promtool (Debian package prometheus; scripts/setup-debian.sh installs it), python3 with
# PyYAML (python3-yaml). A missing promtool is reported and skipped unless DEPLOY_CHECK_STRICT=1,
# which CI sets through scripts/test.sh; a missing systemd-analyze (containers without systemd) is
# always only reported.
set -euo pipefail
cd "$(dirname "$0")/.."
strict=${DEPLOY_CHECK_STRICT:-0}
failed=0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

ok() { printf 'deploy/check: ok   %s\n' "$*"; }
fail() { printf 'deploy/check: FAIL %s\n' "$*" >&2; failed=1; }
skip() {
    if [ "$strict" = 1 ]; then fail "$* (DEPLOY_CHECK_STRICT=1)"; else printf 'deploy/check: skip %s\n' "$*"; fi
}

python3 -c 'import yaml' 2>/dev/null || { echo "deploy/check: python3 with PyYAML needed (apt-get install python3-yaml, or pip install pyyaml)" >&2; exit 1; }

# --- 1. Prometheus rules ------------------------------------------------------------------
if command -v promtool >/dev/null; then
    if out=$(promtool check rules deploy/prometheus/alerts.yml 2>&1); then ok "promtool check rules"; else fail "promtool check rules:"; echo "$out" >&2; fi
    if out=$(cd deploy/prometheus && promtool test rules alerts_test.yml 2>&1); then ok "promtool test rules"; else fail "promtool test rules:"; echo "$out" >&2; fi
else
    skip "promtool not installed: alert rules not checked"
fi

# --- 2-4. YAML/JSON parse, PrometheusRule = alerts.yml, dashboard PromQL, documented names --
python3 - "$work" <<'PY' || failed=1
import json, pathlib, re, sys, yaml
work = pathlib.Path(sys.argv[1])
bad = False
def fail(msg):
    global bad
    bad = True
    print(f"deploy/check: FAIL {msg}", file=sys.stderr)

docs = {}
for path in sorted(pathlib.Path("deploy").rglob("*")):
    if path.suffix in (".yml", ".yaml"):
        try:
            docs[str(path)] = list(yaml.safe_load_all(path.read_text()))
        except yaml.YAMLError as e:
            fail(f"{path}: {e}")
    elif path.suffix == ".json":
        try:
            docs[str(path)] = [json.loads(path.read_text())]
        except ValueError as e:
            fail(f"{path}: {e}")
print(f"deploy/check: ok   parsed {len(docs)} YAML/JSON files")

# The Kubernetes PrometheusRule must carry the same rules as alerts.yml.
alerts = docs["deploy/prometheus/alerts.yml"][0]
rule = docs["deploy/kubernetes/prometheusrule.yaml"][0]
if rule["spec"]["groups"] != alerts["groups"]:
    fail("deploy/kubernetes/prometheusrule.yaml: spec.groups differ from deploy/prometheus/alerts.yml")
else:
    print("deploy/check: ok   prometheusrule.yaml matches alerts.yml")

# Every manifest kustomization.yaml lists exists and is a Kubernetes object.
kust = docs["deploy/kubernetes/kustomization.yaml"][0]
for res in kust["resources"]:
    obj = docs.get(f"deploy/kubernetes/{res}")
    if not obj or not all(isinstance(d, dict) and "apiVersion" in d and "kind" in d for d in obj):
        fail(f"deploy/kubernetes/kustomization.yaml: {res} missing or not a Kubernetes object")

# Dashboard expressions, with Grafana's variables filled in, as recording rules for promtool.
dash = docs["deploy/grafana/binlog-relay.json"][0]
exprs = []
def walk(panels):
    for p in panels:
        exprs.extend(t["expr"] for t in p.get("targets", []) if "expr" in t)
        walk(p.get("panels", []))
walk(dash["panels"])
filled = [e.replace("$__rate_interval", "5m").replace("$job", ".*").replace("$instance", ".*") for e in exprs]
(work / "dashboard_rules.yml").write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": [
    {"record": f"dashboard:expr{i}", "expr": e} for i, e in enumerate(filled)]}]}))
if not any(v["name"] == "datasource" and v["type"] == "datasource" for v in dash["templating"]["list"]):
    fail("deploy/grafana/binlog-relay.json: no datasource variable")

# Every binlog_relay_* name used by the alerts and the dashboard is documented.
documented = set(re.findall(r"`(binlog_relay_[a-z0-9_]+)", pathlib.Path("docs/metrics.md").read_text()))
used = set()
for e in [r["expr"] for g in alerts["groups"] for r in g["rules"]] + exprs:
    used.update(re.findall(r"\bbinlog_relay_[a-z0-9_]+", e))
histograms = {n for n in documented if n.endswith("_seconds")}
def base(name):
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and name[: -len(suffix)] in histograms:
            return name[: -len(suffix)]
    return name
missing = sorted(n for n in used if base(n) not in documented)
if missing:
    fail("metric names used but not in docs/metrics.md: " + ", ".join(missing))
else:
    print(f"deploy/check: ok   {len(used)} metric names used, all in docs/metrics.md")
sys.exit(1 if bad else 0)
PY
if command -v promtool >/dev/null; then
    if out=$(promtool check rules "$work/dashboard_rules.yml" 2>&1); then ok "dashboard PromQL parses"; else fail "dashboard PromQL:"; echo "$out" >&2; fi
fi

# --- 5. Kubernetes: kustomize builds the manifests (kubectl's built-in kustomize, offline) ------
if command -v kubectl >/dev/null; then
    if out=$(kubectl kustomize deploy/kubernetes 2>&1 >/dev/null); then ok "kubectl kustomize deploy/kubernetes"; else fail "kubectl kustomize:"; echo "$out" >&2; fi
else
    printf 'deploy/check: skip kubectl not installed: kustomization not built\n'
fi

# --- 6. systemd ---------------------------------------------------------------------------
if command -v systemd-analyze >/dev/null; then
    printf '#!/bin/sh\n' > "$work/binlog-relay" && chmod +x "$work/binlog-relay"
    sed "s|/usr/local/bin/binlog-relay|$work/binlog-relay|g" deploy/systemd/binlog-relay.service > "$work/binlog-relay.service"
    # verify exits 0 on unknown keys (it only warns): any output is a failure.
    if out=$(systemd-analyze verify "$work/binlog-relay.service" 2>&1) && [ -z "$out" ]; then
        ok "systemd-analyze verify binlog-relay.service"
    else
        fail "systemd-analyze verify binlog-relay.service:"; echo "$out" >&2
    fi
else
    printf 'deploy/check: skip systemd-analyze not available: unit not verified\n'
fi

[ "$failed" = 0 ] && echo "deploy/check: all checks passed"
exit "$failed"
