#!/bin/sh
# ooauth2 proxy against the private Dovecot of the tests, side by side with
# the same Python client straight to Dovecot over TLS: NOOP round trip, a
# 20 MB FETCH and APPEND, connection plus login, and the proxy's RSS with
# 100 idle connections. Prints figures, asserts nothing (bench/README.md).
set -eu
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin ooauth2
PROXY_BENCH_BIN="$PWD/target/release/ooauth2" \
    cargo test --quiet --test integration -- --ignored --nocapture proxy::bench_proxy_against_direct 2>&1 |
    grep -E 'direct=|^proxy with'
