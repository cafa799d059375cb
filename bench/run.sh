#!/usr/bin/env bash
# Benchmarks of ooauth2, measured side by side in one run on this machine.
# Prints numbers; asserts nothing (the machines are shared and noisy).
#
#   bench/run.sh           # cached token vs cat, memory, 64 processes, size
#   bench/run.sh --cold    # also a cold release build (a few minutes)
#
# Needs hyperfine (Debian package `hyperfine`), python3 and GNU time (/usr/bin/time).
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in hyperfine python3 /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing (apt-get install hyperfine time python3)" >&2; exit 2; }
done

# Two builds: the plain `cargo build --release` one, and the static-pie one
# the README recommends installing (no dynamic loader work at start).
host=$(rustc -vV | sed -n 's/^host: //p')
cargo build --release --quiet --bin ooauth2
cargo build --release --quiet -p mock-idp
# Packed relative relocations (RELR, glibc 2.36 and binutils 2.38 on): a
# static-pie relocates itself at start, and 10,600 RELA entries are 248 KiB
# read, and pages of .data.rel.ro written, on every run.
RUSTFLAGS="-C target-feature=+crt-static -C link-arg=-Wl,-z,pack-relative-relocs" \
    cargo build --release --quiet --bin ooauth2 --target "$host"
dynamic=$PWD/target/release/ooauth2
bin=$PWD/target/$host/release/ooauth2
mock=$PWD/target/release/mock-idp

work=$(mktemp -d)
mock_pid=""
bus_pid=""
keyring_pid=""
cleanup() {
    [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null || true
    [ -n "$keyring_pid" ] && kill "$keyring_pid" 2>/dev/null || true
    [ -n "$bus_pid" ] && kill "$bus_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# The mock provider on a free port, approving sign-ins at once.
"$mock" --pending-polls 0 --interval 0 >"$work/mock.out" 2>"$work/mock.log" &
mock_pid=$!
for _ in $(seq 100); do grep -q '^authority=' "$work/mock.out" 2>/dev/null && break; sleep 0.05; done
authority=$(sed -n 's/^authority=//p' "$work/mock.out")
[ -n "$authority" ] || { echo "bench: the mock provider did not start" >&2; exit 1; }

export OOAUTH2_STORE_DIR=$work/store
user=me@example.com
args=(--client-id bench-client --user "$user" --authority "$authority")
"$bin" login "${args[@]}" </dev/null 2>/dev/null
record=$(ls "$OOAUTH2_STORE_DIR"/*.json)

median_ms() { # hyperfine JSON → median of each command, in ms
    python3 - "$1" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print("%.3f" % (r["median"] * 1000))
PY
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -sr)"
echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "commit:  $(git rev-parse --short HEAD 2>/dev/null || echo none)"
echo

echo "1. cached 'ooauth2 token' vs 'cat' of the account's record"
echo "   (hyperfine -N, 5 rounds of 1000 runs of each command; medians)"
ratios=(); dratios=()
for round in 1 2 3 4 5; do
    hyperfine -N --warmup 100 --runs 1000 --export-json "$work/cached.$round.json" \
        "cat $record" "$bin token ${args[*]}" "$dynamic token ${args[*]}" >/dev/null 2>&1
    read -r cat_ms token_ms dyn_ms < <(median_ms "$work/cached.$round.json" | paste -sd' ')
    ratio=$(python3 -c "print('%.2f' % ($token_ms / $cat_ms))")
    dratio=$(python3 -c "print('%.2f' % ($dyn_ms / $cat_ms))")
    ratios+=("$ratio"); dratios+=("$dratio")
    echo "   round $round: cat $cat_ms ms, static $token_ms ms (${ratio}x), dynamic $dyn_ms ms (${dratio}x)"
done
mid() { printf '%s\n' "$@" | sort -n | sed -n 3p; }
echo "   median ratio: static build $(mid "${ratios[@]}")x, dynamic build $(mid "${dratios[@]}")x   (target: at most 1.25x)"
echo

if command -v valgrind >/dev/null; then
    # Instruction counts do not depend on what else the machine is doing.
    count() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null | sed -n 's/.*Collected : //p'; }
    cat_ir=$(count cat "$record")
    token_ir=$(count "$bin" token "${args[@]}")
    dyn_ir=$(count "$dynamic" token "${args[@]}")
    echo "   instructions (callgrind, whole process incl. loader): cat $cat_ir, static $token_ir, dynamic $dyn_ir"
    echo
fi

echo "2. peak memory of a cached 'ooauth2 token' (GNU time, max RSS over 50 runs)"
for _ in $(seq 50); do /usr/bin/time -f %M "$bin" token "${args[@]}" 2>&1 >/dev/null; done | sort -n >"$work/rss"
echo "   static build:  median $(sed -n 25p "$work/rss") KiB, max $(tail -1 "$work/rss") KiB   (target: under 4096 KiB)"
for _ in $(seq 50); do /usr/bin/time -f %M "$dynamic" token "${args[@]}" 2>&1 >/dev/null; done | sort -n >"$work/rss"
echo "   dynamic build: median $(sed -n 25p "$work/rss") KiB, max $(tail -1 "$work/rss") KiB"
cat_rss=$(/usr/bin/time -f %M cat "$record" 2>&1 >/dev/null)
echo "   cat of the record, for scale: $cat_rss KiB"
echo

expire() { # as if the access token's time had run out (of $1, default the file account's)
    python3 - "${1:-$record}" <<'PY'
import json, sys
p = sys.argv[1]; r = json.load(open(p)); r["expires_at"] = 1
json.dump(r, open(p, "w"))
PY
}
refreshes() { sleep 0.5; grep -c 'grant_type=refresh_token' "$work/mock.log" || true; }

echo "3. 64 processes on an expired token (static build, 5 rounds)"
# One provider round trip: a single process refreshing, median of 10.
for _ in $(seq 10); do
    expire
    s=$(date +%s%N); "$bin" token "${args[@]}" >/dev/null; e=$(date +%s%N)
    echo $(( (e - s) / 1000 ))
done | sort -n | sed -n 5p >"$work/single"
single_us=$(cat "$work/single")
echo "   one process refreshing alone: $((single_us / 1000)).$(printf %03d $((single_us % 1000))) ms (median of 10)"
for round in 1 2 3 4 5; do
    expire
    before=$(refreshes)
    s=$(date +%s%N)
    pids=()
    for i in $(seq 64); do "$bin" token "${args[@]}" >"$work/out.$round.$i" & pids+=($!); done
    wait "${pids[@]}"
    e=$(date +%s%N)
    after=$(refreshes)
    distinct=$(cat "$work"/out."$round".* | sort -u | wc -l)
    wall_us=$(( (e - s) / 1000 ))
    echo "   round $round: wall $((wall_us / 1000)).$(printf %03d $((wall_us % 1000))) ms, refresh requests: $((after - before)), distinct tokens printed: $distinct"
done
echo "   (target: one refresh per round; wall time at most one round trip + 100 ms,"
echo "    where the wall time includes starting 64 processes on $(nproc) cores)"
echo

# A refresh (decrypt_cmd, grant, encrypt_cmd, write) of the account that
# `args` and `rec` name, median of 10, in microseconds.
refresh_us() {
    local -n a=$1
    for _ in $(seq 10); do
        expire "$2"
        s=$(date +%s%N); "$bin" token "${a[@]}" >/dev/null; e=$(date +%s%N)
        echo $(( (e - s) / 1000 ))
    done | sort -n | sed -n 5p
}
ms() { python3 -c "print('%.3f' % ($1 / 1000))"; }

echo "5. secret stores: a cached 'ooauth2 token' per store, and a refresh's cost"
stores=(file)
if command -v age >/dev/null && command -v age-keygen >/dev/null; then
    age-keygen -o "$work/age.key" 2>/dev/null
    recipient=$(age-keygen -y "$work/age.key")
    age_args=(--client-id bench-age --user "$user" --authority "$authority"
        --secret-store command --encrypt-cmd "age -r $recipient" --decrypt-cmd "age -d -i $work/age.key")
    "$bin" login "${age_args[@]}" </dev/null 2>/dev/null
    age_record=$(grep -l '"client_id": "bench-age"' "$OOAUTH2_STORE_DIR"/*.json)
    stores+=(age)
fi
if command -v gpg >/dev/null; then
    export GNUPGHOME=$work/gnupg
    mkdir -m 700 "$GNUPGHOME"
    gpg --batch --passphrase '' --quick-gen-key bench@example.com default default never 2>/dev/null
    gpg_args=(--client-id bench-gpg --user "$user" --authority "$authority"
        --secret-store command --encrypt-cmd "gpg --batch -q -e -r bench@example.com" --decrypt-cmd "gpg --batch -q -d")
    "$bin" login "${gpg_args[@]}" </dev/null 2>/dev/null
    gpg_record=$(grep -l '"client_id": "bench-gpg"' "$OOAUTH2_STORE_DIR"/*.json)
    stores+=(gpg)
fi
# The keyring: a private D-Bus session (activating nothing) and GNOME
# Keyring unlocked with a throwaway password, stopped by PID at the end.
if command -v dbus-daemon >/dev/null && command -v gnome-keyring-daemon >/dev/null \
    && command -v dbus-send >/dev/null; then
    kr=$work/keyring
    mkdir -p -m 700 "$kr/run"
    cat >"$kr/bus.conf" <<EOF
<busconfig><type>session</type><listen>unix:path=$kr/run/bus</listen>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy></busconfig>
EOF
    dbus-daemon --config-file="$kr/bus.conf" --fork --print-address=3 --print-pid=4 3>"$kr/addr" 4>"$kr/pid"
    bus_pid=$(cat "$kr/pid")
    export DBUS_SESSION_BUS_ADDRESS
    DBUS_SESSION_BUS_ADDRESS=$(cat "$kr/addr")
    printf bench-password | HOME=$kr XDG_DATA_HOME=$kr/data XDG_RUNTIME_DIR=$kr/run \
        gnome-keyring-daemon --foreground --unlock --components=secrets >/dev/null 2>&1 &
    keyring_pid=$!
    for _ in $(seq 200); do
        timeout 2 dbus-send --session --print-reply --reply-timeout=1000 \
            --dest=org.freedesktop.DBus /org/freedesktop/DBus \
            org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null \
            | grep -q 'boolean true' && break
        sleep 0.05
    done
    keyring_args=(--client-id bench-keyring --user "$user" --authority "$authority" --secret-store keyring)
    "$bin" login "${keyring_args[@]}" </dev/null 2>/dev/null
    keyring_record=$(grep -l '"client_id": "bench-keyring"' "$OOAUTH2_STORE_DIR"/*.json)
    stores+=(keyring)
fi
if [ -n "${age_record:-}" ]; then
    # cache_access_token=false: the access token is sealed too, and each
    # cached answer runs the decrypt (the price the README names).
    agex_args=("${age_args[@]}" --cache-access-token false)
    agex_args[1]=bench-age-x
    "$bin" login "${agex_args[@]}" </dev/null 2>/dev/null
    stores+=("age with cache_access_token=false")
fi
# Cached: the access token sits in the record whatever the store, so no
# backend is read (target: the ratio of file), but for the last.
cmds=("cat $record" "$bin token ${args[*]}")
[ -n "${age_record:-}" ] && cmds+=("$bin token $(printf '%q ' "${age_args[@]}")")
[ -n "${gpg_record:-}" ] && cmds+=("$bin token $(printf '%q ' "${gpg_args[@]}")")
[ -n "${keyring_record:-}" ] && cmds+=("$bin token $(printf '%q ' "${keyring_args[@]}")")
[ -n "${age_record:-}" ] && cmds+=("$bin token $(printf '%q ' "${agex_args[@]}")")
for round in 1 2 3; do
    hyperfine -N --warmup 50 --runs 500 --export-json "$work/stores.$round.json" "${cmds[@]}" >/dev/null 2>&1 \
        || hyperfine --warmup 50 --runs 500 --export-json "$work/stores.$round.json" "${cmds[@]}" >/dev/null 2>&1
    read -r -a m < <(median_ms "$work/stores.$round.json" | paste -sd' ')
    line="   cached, round $round: cat ${m[0]} ms"
    for i in "${!stores[@]}"; do
        line+=", ${stores[$i]} ${m[$((i + 1))]} ms ($(python3 -c "print('%.2f' % (${m[$((i + 1))]} / ${m[0]}))")x)"
    done
    echo "$line"
done
file_us=$(refresh_us args "$record")
line="   a refresh (median of 10): file $(ms "$file_us") ms"
if [ -n "${age_record:-}" ]; then
    age_us=$(refresh_us age_args "$age_record")
    line+=", age $(ms "$age_us") ms (+$(ms $((age_us - file_us))) ms to open and seal)"
fi
if [ -n "${gpg_record:-}" ]; then
    gpg_us=$(refresh_us gpg_args "$gpg_record")
    line+=", gpg $(ms "$gpg_us") ms (+$(ms $((gpg_us - file_us))) ms)"
fi
if [ -n "${keyring_record:-}" ]; then
    keyring_us=$(refresh_us keyring_args "$keyring_record")
    line+=", keyring $(ms "$keyring_us") ms (+$(ms $((keyring_us - file_us))) ms to probe, read, write, read back and delete)"
fi
echo "$line"
echo "   (for scale: mutt_oauth2.py runs gpg on every call, cached or not: about 64 ms; bench/README.md)"
echo

echo "4. size and build"
for b in "$bin" "$dynamic"; do
    size=$(stat -c %s "$b")
    echo "   $b: $size bytes ($(python3 -c "print('%.1f' % ($size / 1048576))") MiB)"
done
if [ "${1:-}" = "--cold" ]; then
    cold=$(mktemp -d)
    s=$(date +%s)
    CARGO_TARGET_DIR=$cold cargo build --release --quiet --bin ooauth2
    e=$(date +%s)
    echo "   cold release build: $((e - s)) s on $(nproc) cores"
    rm -rf "$cold"
else
    echo "   cold release build: run with --cold"
fi
