#!/usr/bin/env bash
# Runs promtool (the reference: Prometheus 2.42) over this corpus: `check rules` on every
# *.rules.yaml, then `test rules` on every *.test.yaml, one file at a time from this folder
# (rule_files paths are relative). Exits non-zero if any check or test fails.
# Usage: ./run.sh [PROMTOOL]   (default: promtool on PATH)
set -u
cd "$(dirname "$0")"
promtool="${1:-promtool}"
failed=0

if ! "$promtool" --version 2>&1 | grep -q 'version 2\.42\.'; then
  echo "warning: expected promtool 2.42, got: $("$promtool" --version 2>&1 | head -1)" >&2
fi

# (tests/it/rules.rs checks that seed.rules.yaml is the seed's alerts.yaml verbatim.)

for f in *.rules.yaml; do
  if ! out=$("$promtool" check rules "$f" 2>&1); then
    echo "$out" >&2
    failed=1
  fi
done

passed=0
nfail=0
for f in *.test.yaml; do
  if "$promtool" test rules "$f" >/dev/null 2>&1; then
    passed=$((passed + 1))
  else
    "$promtool" test rules "$f"
    nfail=$((nfail + 1))
    failed=1
  fi
done
echo "promtool test rules: $passed passed, $nfail failed"
exit "$failed"
