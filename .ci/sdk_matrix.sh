#!/usr/bin/env bash
# The SDK-line matrix: for every supported line of openai, anthropic and google-genai, the OLDEST supported release
# (from byok_client/clients/_lines) and the NEWEST available one, each in its own venv with byok_client (the wheel
# built from this repo, with that SDK's extra), pytest and only that SDK, running that SDK's client tests and the
# line tests. Then: a venv per extra running the README snippet against MockProvider; a venv per SDK with a release
# older than supported (the clear error); `uv pip compile` checks that the extras resolve with current frameworks;
# LICENSE in the sdist and the wheel. Exits non-zero on any failure, after a summary table.
#
# Usage: .ci/sdk_matrix.sh            (SDK_MATRIX_DIR=/tmp/... to choose where the venvs go; JOBS=2 in parallel)
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${SDK_MATRIX_DIR:-/tmp/byok-sdk-matrix}
JOBS=${JOBS:-2}
PYVER=${PYVER:-3.11}
export UV_LINK_MODE=${UV_LINK_MODE:-copy} UV_NO_PROGRESS=1

# -- one job (run in parallel through xargs): NAME KIND SDK SPEC EXTRA TESTS -------------------------------------
if [[ "${1:-}" == "--job" ]]; then
    name=$2 kind=$3 sdk=$4 spec=$5 extra=$6 tests=${7:-}
    venv="$WORK/venvs/$name" log="$WORK/logs/$name.log" result="$WORK/results/$name"
    wheel=$(cat "$WORK/wheel")
    {
        uv venv -q --python "$PYVER" "$venv" || exit 1
        case $kind in
            tests) uv pip install -q -p "$venv" "byok-client[$extra] @ file://$wheel" "$spec" pytest pytest-asyncio pytest-timeout ;;
            extra) uv pip install -q -p "$venv" "byok-client[$extra] @ file://$wheel" ;;
            old) uv pip install -q -p "$venv" "byok-client @ file://$wheel" "$spec" ;;
        esac
    } >"$log" 2>&1 || { echo "$name|?|?|0|1|0|install failed" >"$result"; exit 0; }
    py="$venv/bin/python"
    version=$("$py" -c "import importlib.metadata as m; print(m.version('$sdk'))" 2>>"$log")
    http=$(cd "$ROOT" && "$py" -c "from tests._sdk import http_library; print(http_library('$sdk').__name__)" 2>>"$log" || echo "?")
    case $kind in
        tests)
            # shellcheck disable=SC2086
            (cd "$ROOT" && "$py" -m pytest -q -p no:cacheprovider -rs $tests) >>"$log" 2>&1
            rc=$?
            summary=$(grep -E "^=*.*( passed| failed| error| skipped| no tests ran)" "$log" | tail -1)
            count() { echo "$summary" | grep -oE "[0-9]+ $1" | grep -oE "[0-9]+" || echo 0; }
            passed=$(count passed) failed=$(( $(count failed) + $(count error) )) skipped=$(count skipped)
            status=ok; if [[ $rc -ne 0 || $passed -eq 0 ]]; then status=FAILED; [[ $failed -eq 0 ]] && failed=1; fi
            echo "$name|$http|$version|$passed|$failed|$skipped|$status" >"$result" ;;
        extra)
            snippet="$ROOT/.ci/snippets/$extra.py"
            (cd "$WORK" && "$py" "$ROOT/.ci/run_snippet.py" "$extra" "$snippet") >>"$log" 2>&1
            if [[ $? -eq 0 ]]; then echo "$name|$http|$version|1|0|0|ok" >"$result"
            else echo "$name|$http|$version|0|1|0|FAILED" >"$result"; fi ;;
        old)
            # Too old for byok_client: one clear error naming the installed version and the supported lines.
            (cd "$WORK" && "$py" - "$sdk" "$version" "$extra") >>"$log" 2>&1 <<'PY'
import sys
sdk, version, name = sys.argv[1:]
import byok_client
try:
    getattr(byok_client, name)
except byok_client.UnsupportedSDKVersionError as exc:
    print(exc)
    assert f"{sdk} {version} is installed" in str(exc) and "supports" in str(exc), exc
    assert name not in byok_client.__all__  # so `from byok_client import *` still works
else:
    raise SystemExit(f"{sdk} {version}: byok_client.{name} imported without the unsupported-version error")
PY
            if [[ $? -eq 0 ]]; then echo "$name|-|$version|1|0|0|ok (clear error)" >"$result"
            else echo "$name|-|$version|0|1|0|FAILED" >"$result"; fi ;;
    esac
    exit 0
fi

# -- the matrix -----------------------------------------------------------------------------------------------------
start=$SECONDS
rm -rf "$WORK" && mkdir -p "$WORK/venvs" "$WORK/logs" "$WORK/results" "$WORK/dist"
fail=0

echo "== build (uv build) and LICENSE in both archives"
if uv build -q --out-dir "$WORK/dist" "$ROOT" >"$WORK/logs/build.log" 2>&1; then
    wheel=$(ls "$WORK"/dist/*.whl) sdist=$(ls "$WORK"/dist/*.tar.gz)
    echo "$wheel" >"$WORK/wheel"
    in_wheel=$(unzip -Z1 "$wheel" | grep -E "dist-info/licenses/LICENSE$" || true)
    in_sdist=$(tar tzf "$sdist" | grep -E "^[^/]+/LICENSE$" || true)
    echo "wheel: ${in_wheel:-LICENSE MISSING}"; echo "sdist: ${in_sdist:-LICENSE MISSING}"
    [[ -n "$in_wheel" && -n "$in_sdist" ]] || fail=1
else
    cat "$WORK/logs/build.log"; echo "build failed"; exit 1
fi

# Each supported line's oldest release, read from the adapter registry (the one place it is written).
lines=$(python3 - "$ROOT/byok_client/clients/_lines/__init__.py" <<'PY'
import ast, sys
tree = ast.parse(open(sys.argv[1]).read())
for node in ast.walk(tree):
    if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Line":
        dist, major, oldest, http, _ = (a.value for a in node.args)
        print(dist, major, oldest, http)
PY
)
declare -A TESTS=([openai]="tests/test_openai_client.py" [anthropic]="tests/test_anthropic_client.py"
                  [google-genai]="tests/test_genai_client.py")
declare -A EXTRA=([openai]=openai [anthropic]=anthropic [google-genai]=google)
declare -A ATTR=([openai]=OpenAI [anthropic]=Anthropic [google-genai]=genai)
declare -A TOO_OLD=([openai]="openai==1.107.0" [anthropic]="anthropic==0.79.0" [google-genai]="google-genai==1.75.0")
common_tests="tests/test_sdk_lines.py tests/test_package.py"
jobs="$WORK/jobs"
: >"$jobs"
while read -r dist major oldest http; do
    short=${dist#google-}
    t="${TESTS[$dist]} $common_tests"
    printf '%s\n' "$short-$major.x-oldest tests $dist $dist==$oldest ${EXTRA[$dist]} '$t'" >>"$jobs"
    printf '%s\n' "$short-$major.x-newest tests $dist $dist>=$oldest,<$((major + 1)) ${EXTRA[$dist]} '$t'" >>"$jobs"
done <<<"$lines"
for dist in openai anthropic google-genai; do
    printf '%s\n' "extra-${EXTRA[$dist]}-snippet extra $dist - ${EXTRA[$dist]}" >>"$jobs"
    printf '%s\n' "${dist#google-}-too-old old $dist ${TOO_OLD[$dist]} ${ATTR[$dist]}" >>"$jobs"
done
echo "== $(wc -l <"$jobs") venvs, $JOBS at a time"
export WORK PYVER
xargs -P "$JOBS" -L 1 bash "$0" --job <"$jobs"

echo "== resolver: the extras with current frameworks (uv pip compile against the registry)"
wheel=$(cat "$WORK/wheel")
resolve() {  # LABEL FRAMEWORKS... : compile byok-client[extra] with the frameworks; none may fall below its newest
    local label=$1 extra=$2; shift 2
    local together newest name got want ok=1
    together=$(printf '%s\n' "byok-client[$extra] @ file://$wheel" "$@" | uv pip compile -q --no-header --no-annotate --python-version "$PYVER" - 2>&1) \
        || { echo "$label: does not resolve"; echo "$together" | tail -5; return 1; }
    for framework in "$@"; do
        name=${framework%%[*}
        newest=$(echo "$framework" | uv pip compile -q --no-header --no-annotate --python-version "$PYVER" - 2>/dev/null | grep -iE "^$name==")
        got=$(echo "$together" | grep -iE "^$name==")
        want=${newest#*==}
        printf '  %-28s resolved %-12s newest %s\n' "$name" "${got#*==}" "$want"
        [[ "${got#*==}" == "$want" ]] || ok=0
    done
    echo "$together" | grep -iE "^(openai|anthropic|google-genai|jiter|httpx|httpx2)==" | sed 's/^/  with /'
    [[ $ok -eq 1 ]] && echo "$label: ok" || { echo "$label: a framework was held below its newest release"; return 1; }
}
resolve "byok-client[openai] + instructor + llama-index-llms-openai" openai instructor llama-index-llms-openai || fail=1
resolve "byok-client[google] + pydantic-ai-slim[google]" google "pydantic-ai-slim[google]" || fail=1

echo
echo "== summary"
printf '%-28s %-7s %-10s %7s %7s %8s  %s\n' "line" "http" "version" "passed" "failed" "skipped" "status"
for result in "$WORK"/results/*; do
    IFS='|' read -r name http version passed failed skipped status <"$result"
    printf '%-28s %-7s %-10s %7s %7s %8s  %s\n' "$name" "$http" "$version" "$passed" "$failed" "$skipped" "$status"
    if [[ "$status" != ok* ]]; then
        fail=1
        echo "---- $WORK/logs/$name.log (tail)"; tail -25 "$WORK/logs/$name.log"; echo "----"
    fi
done
expected=$(wc -l <"$jobs"); got=$(ls "$WORK"/results | wc -l)
[[ $got -eq $expected ]] || { echo "only $got of $expected jobs reported"; fail=1; }
echo "wall time: $((SECONDS - start)) s"
[[ $fail -eq 0 ]] && echo "sdk matrix: all passed" || echo "sdk matrix: FAILED"
exit $fail
