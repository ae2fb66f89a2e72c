#!/usr/bin/env bash
# Framework tests in venvs of their own: one uv venv per framework group, holding byok_client (editable, with only
# the test tools: the `dev-lite` extra) and the framework, so the resolver picks the SDK line that framework pins
# (llama-index-llms-openai: openai<3; instructor: openai<3.51; pydantic-ai-slim[google]: google-genai<3). Each venv
# runs that group's tests/frameworks/ files against MockProvider on 127.0.0.1, then a summary table is printed.
# Exits non-zero if any group failed to install, failed a test, or ran no test.
#
# Usage: .ci/frameworks.sh [GROUP...]     (FRAMEWORKS_DIR=/tmp/... for the venvs; JOBS=2 groups at a time)
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${FRAMEWORKS_DIR:-/tmp/byok-frameworks}
JOBS=${JOBS:-2}
PYVER=${PYVER:-3.11}
export UV_LINK_MODE=${UV_LINK_MODE:-copy} UV_NO_PROGRESS=1

# name | packages (space-separated) | test files
GROUPS_TABLE="\
langchain|langchain-openai langchain-anthropic|tests/frameworks/test_langchain.py
pydantic-ai|pydantic-ai-slim[openai,anthropic]|tests/frameworks/test_pydantic_ai.py
pydantic-ai-google|pydantic-ai-slim[google]|tests/frameworks/test_pydantic_ai_google.py
pydantic-ai-google-genai3|pydantic-ai-slim[google] google-genai>=3.3|tests/frameworks/test_pydantic_ai_google.py
openai-agents|openai-agents|tests/frameworks/test_openai_agents.py
llama-index|llama-index-llms-openai>=0.6|tests/frameworks/test_llama_index.py
instructor|instructor|tests/frameworks/test_instructor.py"

# -- one group (run in parallel through xargs) ----------------------------------------------------------------------
if [[ "${1:-}" == "--job" ]]; then
    line=$(grep -E "^$2\|" <<<"$GROUPS_TABLE")
    IFS='|' read -r name packages tests <<<"$line"
    venv="$WORK/venvs/$name" log="$WORK/logs/$name.log" result="$WORK/results/$name"
    # shellcheck disable=SC2086
    {
        uv venv -q --python "$PYVER" "$venv" && uv pip install -q -p "$venv" -e "$ROOT[dev-lite]" $packages
    } >"$log" 2>&1 || { echo "$name|-|0|1|0|install failed" >"$result"; exit 0; }
    versions=$("$venv/bin/python" - 2>>"$log" <<'PY'
import importlib.metadata as m
found = []
for dist in ("openai", "anthropic", "google-genai", "httpx", "httpx2"):
    try:
        found.append(f"{dist} {m.version(dist)}")
    except m.PackageNotFoundError:
        pass
print(", ".join(found))
PY
)
    # shellcheck disable=SC2086
    (cd "$ROOT" && "$venv/bin/python" -m pytest -q -p no:cacheprovider -rfEs $tests) >>"$log" 2>&1
    rc=$?
    summary=$(grep -E "( passed| failed| error| skipped| no tests ran)" "$log" | tail -1)
    count() { echo "$summary" | grep -oE "[0-9]+ $1" | grep -oE "[0-9]+" || echo 0; }
    passed=$(count passed) failed=$(( $(count failed) + $(count error) )) skipped=$(count skipped)
    status=ok
    if [[ $rc -ne 0 || $passed -eq 0 ]]; then status=FAILED; [[ $failed -eq 0 ]] && failed=1; fi
    echo "$name|$versions|$passed|$failed|$skipped|$status" >"$result"
    exit 0
fi

# -- all groups -----------------------------------------------------------------------------------------------------
command -v uv >/dev/null || { echo "frameworks: uv is required (pip install uv)"; exit 1; }
start=$SECONDS
rm -rf "$WORK" && mkdir -p "$WORK/venvs" "$WORK/logs" "$WORK/results"
if [[ $# -gt 0 ]]; then selected=("$@"); else mapfile -t selected < <(cut -d'|' -f1 <<<"$GROUPS_TABLE"); fi
for group in "${selected[@]}"; do
    grep -qE "^$group\|" <<<"$GROUPS_TABLE" || { echo "frameworks: no group named $group"; exit 2; }
done
echo "== ${#selected[@]} framework venvs, $JOBS at a time, in $WORK"
export WORK PYVER GROUPS_TABLE
printf '%s\n' "${selected[@]}" | xargs -P "$JOBS" -I{} bash "$0" --job {}

fail=0
echo
echo "== summary"
printf '%-26s %7s %7s %8s  %-8s %s\n' "group" "passed" "failed" "skipped" "status" "versions"
for group in "${selected[@]}"; do
    result="$WORK/results/$group"
    if [[ ! -f "$result" ]]; then echo "$group: no result"; fail=1; continue; fi
    IFS='|' read -r name versions passed failed skipped status <"$result"
    printf '%-26s %7s %7s %8s  %-8s %s\n' "$name" "$passed" "$failed" "$skipped" "$status" "$versions"
    [[ "$status" == ok ]] || fail=1
done
for group in "${selected[@]}"; do
    if ! grep -q "|ok$" "$WORK/results/$group" 2>/dev/null; then
        echo "---- $WORK/logs/$group.log (tail)"; tail -30 "$WORK/logs/$group.log"; echo "----"
    fi
done
echo "wall time: $((SECONDS - start)) s"
[[ $fail -eq 0 ]] && echo "frameworks: all passed" || echo "frameworks: FAILED"
exit $fail
