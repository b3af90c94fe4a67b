#!/usr/bin/env bash
# The plain-shell baseline that bench/Measure-Lifecycle.ps1 compares WorktreeTools with: the
# git and tmux commands a user would type by hand to do what New-Feature, Stop-Feature and
# Get-FeatureStatus do.
#
# Usage:
#   lifecycle-baseline.sh create <repo> <worktree-root> <base> <ticket>...
#   lifecycle-baseline.sh remove <repo> <worktree-root> <ticket>...
#   lifecycle-baseline.sh status <base> <worktree>...
#
# Each ticket gets the branch feature/<ticket>, the worktree <worktree-root>/<ticket> and a
# tmux session <ticket> with the windows editor, server, tests and ai, all made by one tmux
# call, as the module does. tmux always runs on the private socket named by
# WORKTREETOOLS_TMUX_SOCKET (tmux -L); the script refuses to run without it, so it never
# touches the user's own tmux server.
set -euo pipefail

socket=${WORKTREETOOLS_TMUX_SOCKET:?set WORKTREETOOLS_TMUX_SOCKET to a private tmux socket}
unset TMUX
windows=(editor server tests ai)

create() {
    local repo=$1 root=$2 base=$3
    shift 3
    local ticket dir env args window
    for ticket in "$@"; do
        dir=$root/$ticket
        git -C "$repo" worktree add --no-track -b "feature/$ticket" "$dir" "$base"

        # The same variables the module gives every window.
        env=(-e "FEATURE_TICKET=$ticket" -e "FEATURE_BRANCH=feature/$ticket"
             -e "FEATURE_PATH=$dir" -e "FEATURE_BASE=$base")
        args=(new-session -d -s "$ticket" -c "$dir" -n "${windows[0]}" "${env[@]}")
        for window in "${windows[@]:1}"; do
            args+=(';' new-window -t "=$ticket:" -c "$dir" -n "$window" "${env[@]}")
        done
        tmux -L "$socket" "${args[@]}"
    done
}

remove() {
    local repo=$1 root=$2
    shift 2
    local ticket
    for ticket in "$@"; do
        tmux -L "$socket" kill-session -t "=$ticket" 2>/dev/null || true
        git -C "$repo" worktree remove --force --force "$root/$ticket"
        git -C "$repo" branch -q -D "feature/$ticket"
    done
}

status() {
    local base=$1
    shift
    local worktree ticket changes ahead behind session modified untracked line
    for worktree in "$@"; do
        ticket=${worktree##*/}
        changes=$(git -C "$worktree" status --porcelain)
        ahead=$(git -C "$worktree" rev-list --count "$base..HEAD")
        behind=$(git -C "$worktree" rev-list --count "HEAD..$base")
        session=no
        if tmux -L "$socket" has-session -t "=$ticket" 2>/dev/null; then
            session=yes
        fi

        modified=0
        untracked=0
        if [[ -n $changes ]]; then
            while IFS= read -r line; do
                if [[ $line == '??'* ]]; then
                    untracked=$((untracked + 1))
                else
                    modified=$((modified + 1))
                fi
            done <<< "$changes"
        fi
        printf '%s modified=%d untracked=%d ahead=%s behind=%s session=%s\n' \
            "$ticket" "$modified" "$untracked" "$ahead" "$behind" "$session"
    done
}

command=${1:?usage: lifecycle-baseline.sh create|remove|status ...}
shift
case $command in
    create) create "$@" ;;
    remove) remove "$@" ;;
    status) status "$@" ;;
    *) echo "unknown command '$command': use create, remove or status" >&2; exit 2 ;;
esac
