#!/usr/bin/env python3
"""Log in to an IMAP server with a token from ooauth2's helper protocol.

Sends an ``action=get`` request for a named account of ooauth2's config
file (see ../config.toml) to ``ooauth2 helper``, takes the ``xoauth2`` value
of the answer and authenticates with imaplib, then selects a mailbox and
prints how many messages it holds. A starting point for your own scripts;
see README.md.

    imap_login.py work --host outlook.office365.com
    imap_login.py gmail --host imap.gmail.com

Exit status: 0 on success, 1 when ooauth2 or the server refuses, 2 on usage
errors. When ooauth2 fails, its own two lines (what failed, what to do) are
on stderr, once.
"""

import argparse
import base64
import imaplib
import ssl
import subprocess
import sys


def get_token(args):
    """Returns the helper's answer for the account as a dict."""
    lines = [
        "action=get",
        "account=" + args.account,
        # A script has no terminal to show a sign-in on: fail instead.
        "interactive=never",
    ]
    request = "\n".join(lines) + "\n\n"
    proc = subprocess.run(
        [args.ooauth2, "helper"],
        input=request,
        capture_output=True,
        text=True,
        check=False,
    )
    answer = {}
    for line in proc.stdout.splitlines():
        if not line:
            break
        key, _, value = line.partition("=")
        answer[key] = value
    if proc.returncode != 0 or "error" in answer:
        # ooauth2 has said what failed and what to do on stderr: pass it on
        # once, with nothing added.
        sys.stderr.write(proc.stderr)
        sys.exit(1)
    return answer


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("account", help="a named account of ooauth2's config file")
    p.add_argument("--host", default="outlook.office365.com")
    p.add_argument("--port", type=int, default=993)
    p.add_argument("--cafile", help="CA certificates to trust instead of the system's")
    p.add_argument("--mailbox", default="INBOX")
    p.add_argument("--ooauth2", default="ooauth2", help="the ooauth2 program")
    args = p.parse_args()

    answer = get_token(args)
    # imaplib base64-encodes what the callback returns: hand it the raw
    # XOAUTH2 string, "user=...\x01auth=Bearer ...\x01\x01".
    raw = base64.b64decode(answer["xoauth2"])
    sent = []

    def xoauth2(challenge):
        # On a refused token the server sends an error challenge; answer it
        # with an empty response so that it finishes with NO.
        if sent:
            sys.stderr.write("imap_login: server said: %r\n" % challenge)
            return b""
        sent.append(True)
        return raw

    ctx = ssl.create_default_context(cafile=args.cafile)
    try:
        with imaplib.IMAP4_SSL(args.host, args.port, ssl_context=ctx) as imap:
            imap.authenticate("XOAUTH2", xoauth2)
            typ, data = imap.select(args.mailbox, readonly=True)
            if typ != "OK":
                sys.stderr.write("imap_login: SELECT %s: %r\n" % (args.mailbox, data))
                return 1
            print("%s: %s messages" % (args.mailbox, data[0].decode()))
    except imaplib.IMAP4.error as e:
        sys.stderr.write("imap_login: %s\n" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
