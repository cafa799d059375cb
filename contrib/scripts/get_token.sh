#!/bin/sh
# Asks ooauth2's helper protocol for a token of a named account (see
# ../config.toml) and prints one value of the answer: access_token (the
# default), xoauth2, oauthbearer, expires_at, ... See README.md.
#
#   get_token.sh work [access_token|xoauth2|oauthbearer|expires_at]
#
# Extra request lines (e.g. "min_ttl=600") can be given in OOAUTH2_EXTRA, one
# per line. On failure ooauth2 has said why on stderr (once: this script adds
# nothing to it), stdout stays empty, and the exit status is ooauth2's.
set -eu
account=$1
key=${2:-access_token}

answer=$(printf 'action=get\naccount=%s\ninteractive=never\n%s\n\n' \
    "$account" "${OOAUTH2_EXTRA:-}" | ooauth2 helper) || exit
value=$(printf '%s\n' "$answer" | sed -n "s/^$key=//p" | head -n 1)
if [ -z "$value" ]; then
    echo "get_token: the answer has no $key; try access_token, xoauth2, oauthbearer or expires_at" >&2
    exit 1
fi
printf '%s\n' "$value"
