#!/bin/sh
# Asks ooauth2's helper protocol for a token and prints one value of the
# answer: access_token (default), xoauth2 or oauthbearer. See README.md.
#
#   get_token.sh YOUR-CLIENT-ID you@example.com [access_token|xoauth2|expires_at]
#
# Extra request lines (e.g. "tenant=contoso.onmicrosoft.com") can be given in
# OOAUTH2_EXTRA, one per line. On failure prints ooauth2's error on stderr,
# nothing on stdout, and exits with ooauth2's status.
set -eu
client_id=$1
user=$2
key=${3:-access_token}

answer=$(printf 'action=get\nclient_id=%s\nuser=%s\ninteractive=never\n%s\n\n' \
    "$client_id" "$user" "${OOAUTH2_EXTRA:-}" | ooauth2 helper) || {
    status=$?
    printf '%s\n' "$answer" | sed -n -e 's/^error=/get_token: error: /p' \
        -e 's/^error_description=/get_token: /p' -e 's/^hint=/get_token: hint: /p' >&2
    exit "$status"
}
printf '%s\n' "$answer" | sed -n "s/^$key=//p" | head -n 1
