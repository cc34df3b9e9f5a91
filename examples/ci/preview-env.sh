#!/usr/bin/env bash
# A preview environment per pull request, driven by Stackseam from any CI system.
#
#   preview-env.sh up   <pr-number> <commit-sha>   launch (or update) the PR's stack, wait for it,
#                                                  print its URL (stdout's last line)
#   preview-env.sh down <pr-number>                destroy it and wait until it is removed
#
# Environment: what `stackseam` reads (DATABASE_URL and SQS_EVENT_QUEUE_URL with AWS credentials,
# or nothing at all next to a running `stackseam dev`), and optionally:
#   STACKSEAM           the command to run (default: stackseam)
#   PREVIEW_MACHINE     the machine of a new stack (default: qa-env)
#   PREVIEW_READY_STATE the state the environment is ready in (default: RUN)
#   PREVIEW_UPDATE      the event a new commit sends to an existing stack (default: UPDATE)
#   PREVIEW_TIMEOUT     how long to wait (default: 45m)
#   GITHUB_OUTPUT       when set (GitHub Actions), `url=<url>` is appended to it
#
# Exit: 0 ready (or removed); 1 the environment failed, was removed meanwhile, timed out or the
# event was refused (the reason is printed); 2 usage.
set -euo pipefail

read -r -a stackseam <<<"${STACKSEAM:-stackseam}"
machine=${PREVIEW_MACHINE:-qa-env}
ready=${PREVIEW_READY_STATE:-RUN}
update=${PREVIEW_UPDATE:-UPDATE}
timeout=${PREVIEW_TIMEOUT:-45m}

usage() {
  echo "usage: $0 up <pr-number> <commit-sha> | $0 down <pr-number>" >&2
  exit 2
}

# What each `stackseam wait` exit code means for the pipeline (see `stackseam wait --help`).
explain() {
  case $1 in
    0) return 0 ;;
    3) echo "preview $stack: a task failed (above: which, its attempt and its error)" >&2 ;;
    4) echo "preview $stack: the stack was removed while we waited" >&2 ;;
    5) echo "preview $stack: not ready after $timeout" >&2 ;;
    6) echo "preview $stack: the event was refused (above: why)" >&2 ;;
    *) echo "preview $stack: stackseam exited $1" >&2 ;;
  esac
  return 1
}

[[ $# -ge 2 ]] || usage
action=$1
pr=$2
[[ $pr =~ ^[0-9]+$ ]] || usage
stack="pr-$pr"

case $action in
  up)
    [[ $# -eq 3 && $3 =~ ^[0-9a-f]{7,40}$ ]] || usage
    sha=$3
    # A new stack is launched; an existing one (a later commit) gets the update event.
    if "${stackseam[@]}" stacks show "$stack" --json >/dev/null 2>&1; then
      event=$update
      extra=()
    else
      event=LAUNCH
      extra=(--machine "$machine")
    fi
    echo "preview $stack: $event for commit $sha" >&2
    code=0
    "${stackseam[@]}" send "$stack" "$event" "${extra[@]}" --meta "commit=$sha" \
      --wait --state "$ready" --timeout "$timeout" >&2 || code=$?
    explain "$code" || exit 1
    url=$("${stackseam[@]}" stacks outputs "$stack" url)
    echo "preview $stack: ready at $url" >&2
    if [[ -n ${GITHUB_OUTPUT:-} ]]; then echo "url=$url" >>"$GITHUB_OUTPUT"; fi
    echo "$url"
    ;;
  down)
    [[ $# -eq 2 ]] || usage
    if ! "${stackseam[@]}" stacks show "$stack" --json >/dev/null 2>&1; then
      echo "preview $stack: no such stack, nothing to destroy" >&2
      exit 0
    fi
    echo "preview $stack: DESTROY" >&2
    code=0
    "${stackseam[@]}" send "$stack" DESTROY --wait --state removed --timeout "$timeout" >&2 || code=$?
    explain "$code" || exit 1
    echo "preview $stack: removed" >&2
    ;;
  *) usage ;;
esac
