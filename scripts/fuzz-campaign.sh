#!/bin/sh
# The 10-million-case runs of docs/security.md "Counts", resumable: each target's run is
# logged in test/fuzz/runs/TARGET.jsonl (npm run fuzz -- --log); running this again goes on
# where the last one stopped. Usage: scripts/fuzz-campaign.sh TARGET...
cd "$(dirname "$0")/.." || exit 1
for t in "$@"; do
  nice -n 19 node scripts/fuzz.js "$t" --runs 10000000 --timeout 30000 --log "test/fuzz/runs/$t.jsonl" || exit $?
done
