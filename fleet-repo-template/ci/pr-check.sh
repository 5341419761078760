#!/usr/bin/env bash
# Flotilla pull-request check: run it in CI on every pull (merge) request.
#
#  1. `flotilla validate` checks every file of the fleet repository and
#     renders every (app, cluster) pair. An invalid fleet fails the check.
#  2. `flotilla diff --format markdown` renders every cluster at the target
#     branch and at the pull request's head, and writes which sites change,
#     and how, to a Markdown file ready to post as a comment.
#
# A pull request that changes sites is not a failure: the comment says what
# changes; reviewers decide. The comment file is written in every case
# (valid with or without changes, invalid fleet, diff error), so a pipeline
# can always post it.
#
# Environment:
#   TARGET_BRANCH  branch the pull request merges into. Default:
#                  $GITHUB_BASE_REF (GitHub Actions), then
#                  $CI_MERGE_REQUEST_TARGET_BRANCH_NAME (GitLab CI), then main.
#   COMMENT_FILE   where to write the Markdown comment (flotilla-diff.md).
#   FLEET_DIR      folder of the fleet repository in the checkout (.).
#   FLOTILLA       the flotilla binary (flotilla, from $PATH).
#   BASE_REV       revision to compare from (origin/$TARGET_BRANCH).
#   HEAD_REV       revision to compare to (HEAD).
#
# Exit code: 0 when the fleet is valid (whether sites change or not),
# 1 when it is invalid, 2 when a tool fails.
#
# On GitHub Actions it also sets the step outputs `changed` (true/false)
# and `comment-file`.
set -euo pipefail

TARGET_BRANCH="${TARGET_BRANCH:-${GITHUB_BASE_REF:-${CI_MERGE_REQUEST_TARGET_BRANCH_NAME:-main}}}"
COMMENT_FILE="${COMMENT_FILE:-flotilla-diff.md}"
FLEET_DIR="${FLEET_DIR:-.}"
FLOTILLA="${FLOTILLA:-flotilla}"
BASE_REV="${BASE_REV:-origin/$TARGET_BRANCH}"
HEAD_REV="${HEAD_REV:-HEAD}"

log() { printf 'flotilla pr-check: %s\n' "$*" >&2; }

set_output() {
  if [[ -n "${GITHUB_OUTPUT:-}" ]]; then
    printf '%s=%s\n' "$1" "$2" >>"$GITHUB_OUTPUT"
  fi
}

# write_failure TITLE FILE: a comment that shows a tool's output.
write_failure() {
  {
    printf '### Flotilla diff\n\n'
    printf '%s\n\n' "$1"
    printf '~~~~text\n'
    cat "$2"
    printf '~~~~\n'
  } >"$COMMENT_FILE"
}

if ! command -v "$FLOTILLA" >/dev/null 2>&1; then
  log "cannot run $FLOTILLA: install flotilla or set FLOTILLA to its path"
  exit 2
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# CI checkouts are often shallow or have a single branch: fetch the target
# branch when the base revision is not there.
if [[ "$BASE_REV" == "origin/$TARGET_BRANCH" ]] &&
  ! git rev-parse --verify --quiet "$BASE_REV^{commit}" >/dev/null; then
  log "fetching $TARGET_BRANCH from origin"
  git fetch --no-tags --quiet origin "+refs/heads/$TARGET_BRANCH:refs/remotes/origin/$TARGET_BRANCH"
fi

log "validating $FLEET_DIR"
set +e
"$FLOTILLA" validate --repo "$FLEET_DIR" >"$tmp/validate.txt" 2>&1
rc=$?
set -e
cat "$tmp/validate.txt" >&2
if [[ $rc -ne 0 ]]; then
  if [[ $rc -eq 1 ]]; then
    write_failure "**The fleet repository is invalid at \`$HEAD_REV\`.** Fix these problems (from \`flotilla validate\`):" "$tmp/validate.txt"
  else
    write_failure "**\`flotilla validate\` failed** (exit code $rc):" "$tmp/validate.txt"
  fi
  set_output changed false
  set_output comment-file "$COMMENT_FILE"
  log "the fleet is invalid; the problems are in $COMMENT_FILE"
  exit "$rc"
fi

log "comparing $BASE_REV with $HEAD_REV"
set +e
"$FLOTILLA" diff --repo "$FLEET_DIR" --base "$BASE_REV" --head "$HEAD_REV" --format markdown \
  >"$tmp/diff.md" 2>"$tmp/diff.err"
rc=$?
set -e
case $rc in
0 | 1)
  cp "$tmp/diff.md" "$COMMENT_FILE"
  set_output comment-file "$COMMENT_FILE"
  if [[ $rc -eq 1 ]]; then
    set_output changed true
    log "sites change: see $COMMENT_FILE"
  else
    set_output changed false
    log "no site changes"
  fi
  exit 0
  ;;
*)
  cat "$tmp/diff.err" >&2
  write_failure "**\`flotilla diff\` failed** (exit code $rc):" "$tmp/diff.err"
  set_output changed false
  set_output comment-file "$COMMENT_FILE"
  exit 2
  ;;
esac
