#!/bin/sh
# The CDS Hooks coverage service with `make serve` running (loopback, no trusted issuers set: calls
# are accepted without a JWT; docs/cds-hooks.md, docs/operations.md for JWTs). Run from the
# repository root: sh examples/cds-hooks/calls.sh
set -e
URL=${URL:-http://127.0.0.1:8080}
curl -s "$URL/cds-services"; echo
for f in order-sign-aetna-97112 order-sign-aetna-97110-maintenance order-sign-medicare-97110; do
  curl -s -X POST -H 'Content-Type: application/json' --data @examples/cds-hooks/$f.json \
       "$URL/cds-services/coverage-order-sign"; echo
done
curl -s -X POST -H 'Content-Type: application/json' --data @examples/cds-hooks/appointment-book-medicare-97530.json \
     "$URL/cds-services/coverage-appointment-book"; echo
