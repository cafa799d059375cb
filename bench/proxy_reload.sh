#!/bin/sh
# ooauth2 proxy's SIGHUP reload: the time from the signal to its log line,
# reloading between 1 and 40 listeners (39 added, 39 removed, 40 kept), the
# median of five each, release binary. Needs no mail server: the listeners
# only bind. Prints figures, asserts nothing (bench/README.md).
set -eu
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin ooauth2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
BIN="$PWD/target/release/ooauth2" DIR="$dir" python3 - <<'PY'
import os, shutil, signal, socket, statistics, subprocess, time
d, binary = os.environ["DIR"], os.environ["BIN"]
def port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
account = '[accounts.work]\nclient_id = "c"\nuser = "me@x.com"\n'
tables = [f'\n[proxy.p{i}]\nprotocol = "imap"\nlisten = "127.0.0.1:{port()}"\n'
          f'server = "127.0.0.1:993"\naccounts = ["work"]\n' for i in range(40)]
files = {n: os.path.join(d, f"{n}.toml") for n in (1, 40)}
for n, path in files.items():
    with open(path, "w") as f:
        f.write(account + "".join(tables[:n]))
live, log = os.path.join(d, "config.toml"), os.path.join(d, "log")
shutil.copy(files[1], live)
os.chmod(live, 0o600)
env = dict(os.environ, OOAUTH2_CONFIG=live, HOME=d)
p = subprocess.Popen([binary, "proxy"], env=env, stderr=open(log, "w"))
while "listening on" not in open(log).read():
    time.sleep(0.01)
count = 0
def reload(n):
    global count
    shutil.copy(files[n], live)
    count += 1
    start = time.monotonic()
    p.send_signal(signal.SIGHUP)
    while open(log).read().count("proxy: reloaded") < count:
        time.sleep(0.001)
    return (time.monotonic() - start) * 1000
added, removed, kept = [], [], []
for _ in range(5):
    added.append(reload(40))
    kept.append(reload(40))
    removed.append(reload(1))
p.send_signal(signal.SIGTERM)
p.wait()
for what, ms in (("39 added", added), ("39 removed", removed), ("40 kept", kept)):
    print(f"reload, {what}: {statistics.median(ms):.0f} ms median of 5 (max {max(ms):.0f})")
PY
