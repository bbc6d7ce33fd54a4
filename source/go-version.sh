#!/usr/bin/env bash
# Prints the Go version btcd is built with: the one pinned in the Dockerfile (ARG GO_VERSION).
# go.mod's `go` line is a minimum, not a version to fetch (there is no golang:1.17 image for
# btcd v0.23-v0.24.2); a go.mod asking for a newer Go than the pinned one stops the build here,
# with the fix in the message.
# usage: go-version.sh <btcd's go.mod> <sigship's Dockerfile>
set -euo pipefail
go_mod=$1 dockerfile=$2
required=$(awk '$1 == "go" { print $2; exit }' "$go_mod")
pinned=$(sed -n 's/^ARG GO_VERSION=//p' "$dockerfile")
if [ -z "$required" ]; then
  echo "go-version: $go_mod has no go line" >&2
  exit 1
fi
if [ -z "$pinned" ]; then
  echo "go-version: $dockerfile pins no Go (ARG GO_VERSION=...)" >&2
  exit 1
fi
# The image tag names a minor release (its newest patch), so compare major.minor.
required_minor=$(echo "$required" | cut -d. -f1,2)
newest=$(printf '%s\n%s\n' "$required_minor" "$pinned" | sort -V | tail -n 1)
if [ "$newest" != "$pinned" ]; then
  echo "go-version: go.mod asks for Go $required, newer than the pinned Go $pinned;" \
    "raise ARG GO_VERSION in source/Dockerfile (a golang:<version>-bookworm image must exist)" >&2
  exit 1
fi
echo "$pinned"
