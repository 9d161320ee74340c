#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Least privilege (docs/privdrop.md): test_sessions.sh with every daemon
# configured `user = PRIV_USER` (default nobody). Besides everything that
# test checks (rendezvous, streams over >= 40 rotations, teardown, SIGKILL
# and restart with its state file rewritten by the user, clean exit), the
# server and the four clients must show, in /proc/PID/status, the user's
# uid, exactly CAP_NET_ADMIN and CAP_NET_RAW in CapEff and CapPrm, nothing
# inheritable or ambient, no_new_privs and a seccomp filter; and SIGHUP
# re-reads the registry as that user.
# Usage: test_privdrop.sh PATH/TO/mt6d   (root; about 2 minutes)
PRIV_USER=${PRIV_USER:-nobody}
export PRIV_USER
exec bash "$(dirname "$0")/test_sessions.sh" "$@"
