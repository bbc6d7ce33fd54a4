#!/usr/bin/env bash
# The base images a build pulls: the Dockerfile's `ARG <NAME>_IMAGE=<reference>` lines (before
# the first FROM), with ${GO_VERSION} expanded; each pinned to the digest an earlier build
# recorded, if one did (trigger-build passes the recorded ones).
#   base-images.sh <Dockerfile> <GO_VERSION> "<recorded: reference@sha256:… …, or none>"
# prints `<NAME>_IMAGE=<reference>[@sha256:…]` per image, and on stderr whether it is pulled by
# its recorded digest or, not recorded yet, by tag. A recorded entry that is not
# `reference@sha256:<64 hex>` stops the build.
set -euo pipefail
dockerfile=$1 go_version=$2 recorded=${3:-}
if [ "$recorded" = none ]; then recorded=""; fi
for entry in $recorded; do
  if ! [[ $entry =~ ^[a-z0-9./_-]+:[A-Za-z0-9._-]+@sha256:[0-9a-f]{64}$ ]]; then
    echo "base-images: recorded entry '$entry' is not <reference>@sha256:<digest>" >&2
    exit 1
  fi
done
awk '/^FROM / { exit } /^ARG [A-Z_]*_IMAGE=/ { sub(/^ARG /, ""); print }' "$dockerfile" |
  sed "s/\${GO_VERSION}/$go_version/g" |
  while IFS== read -r name reference; do
    pinned=""
    for entry in $recorded; do
      if [ "${entry%@*}" = "$reference" ]; then pinned=$entry; fi
    done
    if [ -n "$pinned" ]; then
      echo "base-images: $name by its recorded digest: $pinned" >&2
      echo "$name=$pinned"
    else
      echo "base-images: $name by tag, $reference: no digest recorded yet (this build records it)" >&2
      echo "$name=$reference"
    fi
  done
