#!/usr/bin/env bash
# The GitHub Action's step (action.yml): memscan over MEMSCAN_PATHS with the action's inputs,
# the Markdown report appended to $GITHUB_STEP_SUMMARY, the report in MEMSCAN_FORMAT printed
# to the log, exit-code written to $GITHUB_OUTPUT; the step exits with memscan's code.
# tests/test_integrations.py runs this script as the runner would.
set -uo pipefail

args=()
read -r -a paths <<< "${MEMSCAN_PATHS:-}"
read -r -a inputs <<< "${MEMSCAN_INPUT:-}"
for i in "${inputs[@]}"; do args+=(--input "$i"); done
[ -n "${MEMSCAN_BUDGET:-}" ] && args+=(--budget "$MEMSCAN_BUDGET")
[ -n "${MEMSCAN_FAIL_ON:-}" ] && args+=(--fail-on "$MEMSCAN_FAIL_ON")
format="${MEMSCAN_FORMAT:-table}"

summary="${GITHUB_STEP_SUMMARY:-/dev/null}"
report="$(mktemp)"
memscan "${paths[@]}" "${args[@]}" --format markdown -o "$report"
code=$?
cat "$report" >> "$summary"
if [ "$format" = markdown ]; then
    cat "$report"
else
    memscan "${paths[@]}" "${args[@]}" --format "$format" 2>/dev/null
fi
rm -f "$report"
echo "exit-code=$code" >> "${GITHUB_OUTPUT:-/dev/null}"
exit "$code"
