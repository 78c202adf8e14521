#!/usr/bin/env bash
# One benchmark sitting: Node-RED (the peers' harness) and Patchbay back to back on the same machine, the
# machine's load printed between the parts, so that the ratios of issues 10 and 11 come from one sitting.
#
#   bash bench/sitting.sh                 # Node-RED, Patchbay embedded (runserver and uvicorn), script calls
#   N=1000 CONCURRENCY=1,16 bash bench/sitting.sh
#   PARTS="nodered uvicorn" bash bench/sitting.sh
#
# Needs `pip install -e ".[bench]"` and the peers' folder (PEERS, default ../shared/peers next to the
# repository). Every figure goes to stdout and, one JSON line per level, to $RESULTS (default
# bench-results/sitting-DATE.jsonl, not committed).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PY:-$ROOT/.venv/bin/python}"
PEERS="${PEERS:-$ROOT/../shared/peers}"
N="${N:-1000}"
CONCURRENCY="${CONCURRENCY:-1,16}"
PARTS="${PARTS:-nodered runserver uvicorn scripts}"
mkdir -p bench-results
RESULTS="${RESULTS:-bench-results/sitting-$(date -u +%Y%m%dT%H%M%SZ).jsonl}"

load() { echo "== $(date -u +%H:%M:%S) load: $(cut -d' ' -f1-3 /proc/loadavg) (nproc $(nproc)) $*"; }

for part in $PARTS; do
    load "before $part"
    case "$part" in
        nodered)
            M="$N" CONCURRENCY="${CONCURRENCY//,/ }" REPS="${REPS:-1}" bash "$PEERS/run_nodered.sh" </dev/null \
                | grep -E "MEDIAN|VmHWM|error" ;;
        runserver|uvicorn)
            "$PY" bench/throughput.py --modes embedded --server "$part" --concurrency "$CONCURRENCY" \
                -n "$N" --warmup 200 --peers "$PEERS" --json-out "$RESULTS" \
                | grep -E "MEDIAN|persisted|^\|" ;;
        celery)
            "$PY" bench/throughput.py --modes celery --concurrency "$CONCURRENCY" -n "$N" --warmup 100 \
                --peers "$PEERS" --json-out "$RESULTS" | grep -E "MEDIAN|persisted|^\|" ;;
        scripts)
            "$PY" bench/script_calls.py --calls 3000 --seconds 5 | tail -8 ;;
        *) echo "unknown part $part" >&2 ;;
    esac
done
load "after"
