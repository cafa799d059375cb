//! The device sign-in screen as a person sees it: in a pseudo-terminal
//! (util-linux `script`) the page and the code set apart, a QR code when the
//! window is large enough, and a live countdown redrawn in place; in a pipe
//! the same plain text as ever. And the browser: opened by `xdg-open` when a
//! desktop session is detected or `--open` asks, never with `--no-open`
//! (a stub `xdg-open` first on PATH records what it was given). And a
//! hostile provider's page, code and message: shown without their escapes,
//! CR, LF or bidi controls, on the terminal, in a pipe and to notifiers.

use crate::support::pty::Pty;
use crate::support::run::{Env, Run, USER, path_with, set_mode, sh_quote};
use mock_idp::{DeviceScript, Fault, Grant};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The countdown values (seconds) the screen shows, in order.
fn countdowns(screen: &str) -> Vec<u64> {
    screen
        .match_indices("code expires in ")
        .filter_map(|(i, m)| {
            let rest = &screen[i + m.len()..];
            let t: String = rest
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == ':')
                .collect();
            let mut secs = 0;
            for part in t.split(':') {
                secs = secs * 60 + part.parse::<u64>().ok()?;
            }
            Some(secs)
        })
        .collect()
}

/// Lines of the screen drawn with the half blocks of a QR code.
fn qr_lines(screen: &str) -> usize {
    screen
        .lines()
        .filter(|l| l.contains('█') || l.contains('▀') || l.contains('▄'))
        .count()
}

/// The mock answers the first `pending` polls with authorization_pending,
/// then signs `USER` in; polls every second.
fn approve_after(env: &Env, pending: u32) {
    env.idp.set_device_interval(1);
    env.idp.set_device_script(DeviceScript {
        pending_polls: pending,
        ..Default::default()
    });
}

/// The screen after the last countdown redraw, where the line is finished.
fn after_last_countdown(screen: &str) -> &str {
    let i = screen.rfind("code expires in ").unwrap();
    &screen[i..]
}

#[test]
fn terminal_shows_code_qr_and_a_live_countdown_and_stdout_stays_one_line() {
    let env = Env::new();
    approve_after(&env, 3);
    let args = env.args("token", USER, &[]);
    let pty = Pty::start(&env, &args, &[("TERM", "xterm")], (100, 60));
    let first = pty.wait_for("code expires in ");
    std::thread::sleep(Duration::from_millis(2200));
    let second = pty.screen();
    let (status, screen, stdout) = pty.finish();
    assert_eq!(status, 0, "{screen}");

    // The countdown goes down, redrawn in place on one line.
    let (a, b) = (countdowns(&first), countdowns(&second));
    assert!(
        b.last().unwrap() < a.last().unwrap(),
        "{a:?} then {b:?}: {second}"
    );
    assert!(
        *a.first().unwrap() <= 900 && *a.first().unwrap() >= 895,
        "{a:?}"
    );
    assert!(second.contains("\r code expires in") || second.contains("\rcode expires in"));
    // The page and the code, bold and on lines of their own.
    let poll = &env.idp.token_requests(Grant::Device)[0];
    let device_code = poll.get("device_code").unwrap().to_string();
    let page = format!("{}/devicelogin", env.idp.authority());
    assert!(
        screen.contains(&format!("    \x1b[1m{page}\x1b[0m")),
        "{screen}"
    );
    let code_line = screen
        .lines()
        .find(|l| l.starts_with("    \x1b[1m") && !l.contains("http"))
        .unwrap();
    let user_code = code_line
        .trim()
        .trim_start_matches("\x1b[1m")
        .trim_end_matches("\x1b[0m");
    assert_eq!(user_code.len(), 8, "{code_line:?}");
    // The QR code (with its black-on-white colours) and its caption.
    assert!(qr_lines(&screen) >= 12, "{screen}");
    assert!(screen.contains("\x1b[30;107m"), "{screen}");
    assert!(screen.contains("code filled in"), "{screen}");
    // The line is blanked when the sign-in ends.
    assert!(
        after_last_countdown(&screen).contains(&format!("\r{}\r", " ".repeat(32))),
        "{:?}",
        after_last_countdown(&screen)
    );
    // Secrets stay off the screen; stdout holds the token alone.
    assert!(!screen.contains(&device_code));
    let at = env.cached_access_token(USER);
    assert_eq!(stdout, format!("{at}\n"));
    assert!(!screen.contains(&at));
}

#[test]
fn no_color_and_dumb_terminals_get_no_escape_sequences() {
    for vars in [
        vec![("TERM", "xterm"), ("NO_COLOR", "1")],
        vec![("TERM", "dumb")],
    ] {
        let env = Env::new();
        approve_after(&env, 1);
        let args = env.args("token", USER, &[]);
        let pty = Pty::start(&env, &args, &vars, (100, 60));
        let (status, screen, stdout) = pty.finish();
        assert_eq!(status, 0, "{screen}");
        assert!(!screen.contains('\x1b'), "{vars:?}: {screen:?}");
        assert!(qr_lines(&screen) >= 12, "{screen}");
        assert!(!countdowns(&screen).is_empty(), "{screen}");
        assert_eq!(stdout.lines().count(), 1);
    }
}

/// A device sign-in (`token`) in a window of `size`, which has no QR code
/// but one line saying so: the screen, stdout, and the window the line
/// says the QR code needs.
fn without_qr(size: (u16, u16)) -> (String, String, (u16, u16)) {
    let env = Env::new();
    approve_after(&env, 1);
    let args = env.args("token", USER, &[]);
    let pty = Pty::start(&env, &args, &[("TERM", "xterm")], size);
    let (status, screen, stdout) = pty.finish();
    assert_eq!(status, 0, "{screen}");
    assert_eq!(qr_lines(&screen), 0, "{screen}");
    let why = screen
        .lines()
        // Not any line with "QR": the random user code may hold those letters.
        .find(|l| l.trim_start().starts_with("No QR code:"))
        .map_or("", str::trim_start);
    let said = format!(
        "No QR code: the window ({}x{}) is too small; the QR code needs ",
        size.0, size.1
    );
    let need = why
        .strip_prefix(&said)
        .and_then(|r| r.strip_suffix(" or more."))
        .and_then(|r| r.split_once('x'))
        .map(|(c, r)| (c.parse::<u16>().unwrap(), r.parse::<u16>().unwrap()));
    let need = need.unwrap_or_else(|| panic!("{why:?}: {screen}"));
    (screen, stdout, need)
}

#[test]
fn a_small_window_gets_no_qr_code_but_the_rest() {
    // Not silently: one line says why and how big the window must be.
    let (screen, stdout, _) = without_qr((40, 20));
    assert_eq!(screen.matches("QR code").count(), 2, "{screen}");
    assert!(screen.contains("/devicelogin"), "{screen}");
    assert!(!countdowns(&screen).is_empty(), "{screen}");
    assert_eq!(stdout.lines().count(), 1);
}

#[test]
fn without_verification_uri_complete_the_qr_code_is_the_page_alone() {
    let env = Env::new();
    approve_after(&env, 1);
    env.idp.set_device_uri_complete(false);
    let args = env.args("token", USER, &[]);
    let pty = Pty::start(&env, &args, &[("TERM", "xterm")], (100, 60));
    let (status, screen, _) = pty.finish();
    assert_eq!(status, 0, "{screen}");
    assert!(qr_lines(&screen) >= 12, "{screen}");
    assert!(screen.contains("to open the page"), "{screen}");
    assert!(!screen.contains("code filled in"), "{screen}");
}

/// `ooauth2 login` on a terminal, its countdown running, polling every 20 s
/// (only ENTER can make it quick); the first `pending` polls find no
/// sign-in yet. Also when it started.
fn login_awaiting_enter(env: &Env, pending: u32) -> (Pty, Instant) {
    env.idp.set_device_interval(20);
    env.idp.set_device_script(DeviceScript {
        pending_polls: pending,
        ..Default::default()
    });
    let args = env.args("login", USER, &[]);
    let pty = Pty::start(env, &args, &[("TERM", "xterm")], (100, 60));
    let started = Instant::now();
    pty.wait_for("press ENTER");
    pty.wait_for("code expires in ");
    (pty, started)
}

#[test]
fn enter_polls_at_once_while_the_countdown_runs() {
    let env = Env::new();
    let (mut pty, started) = login_awaiting_enter(&env, 0);
    std::thread::sleep(Duration::from_millis(1200));
    pty.type_text("\n");
    let (status, screen, _) = pty.finish();
    assert_eq!(status, 0, "{screen}");
    assert!(started.elapsed() < Duration::from_secs(12), "{screen}");
    assert_eq!(env.idp.count(Grant::Device), 1);
    assert!(countdowns(&screen).len() >= 2, "{screen}");
    assert!(screen.contains("signed in as"), "{screen}");
}

#[test]
fn a_standard_window_says_how_big_the_qr_code_needs_it() {
    let (_, _, (cols, rows)) = without_qr((80, 24));
    assert!(cols <= 80 && rows > 24, "{cols}x{rows}");
    // A window that big shows it (a page of the same length: the mock's
    // ephemeral ports all have five digits).
    let env = Env::new();
    approve_after(&env, 1);
    let args = env.args("token", USER, &[]);
    let pty = Pty::start(&env, &args, &[("TERM", "xterm")], (cols, rows));
    let (_, screen, _) = pty.finish();
    assert!(qr_lines(&screen) >= 12, "{screen}");
    assert!(!screen.contains("No QR code"), "{screen}");
}

#[test]
fn enter_says_not_signed_in_yet_and_leaves_no_stale_line_or_typed_text() {
    let env = Env::new();
    // The first check ENTER asks for finds no sign-in yet.
    let (mut pty, started) = login_awaiting_enter(&env, 1);
    pty.type_text("typed\n");
    pty.wait_for("not signed in yet, still waiting");
    pty.type_text("\n");
    let (status, screen, _) = pty.finish();
    assert_eq!(status, 0, "{screen}");
    assert!(started.elapsed() < Duration::from_secs(15), "{screen}");
    assert_eq!(env.idp.count(Grant::Device), 2);
    // What was typed is not echoed, and the countdown stays one line
    // redrawn in place: no line break from its first drawing to its end.
    assert!(!screen.contains("typed"), "{screen:?}");
    let first = screen.find("code expires in ").unwrap();
    let end = screen.rfind(&format!("\r{}\r", " ".repeat(32))).unwrap();
    assert!(
        !screen[first..end].contains('\n'),
        "{:?}",
        &screen[first..end]
    );
    // The note stood in the countdown's place, and the countdown came back.
    assert!(
        screen.contains("\rnot signed in yet, still waiting"),
        "{screen:?}"
    );
    assert!(screen.contains("signed in as"), "{screen}");
}

#[test]
fn ctrl_c_says_that_nothing_was_stored_and_exits_130() {
    let env = Env::new();
    approve_after(&env, 1000);
    let args = env.args("login", USER, &[]);
    let mut pty = Pty::start(&env, &args, &[("TERM", "xterm")], (100, 60));
    pty.wait_for("code expires in ");
    std::thread::sleep(Duration::from_millis(1500));
    pty.type_text("\x03");
    let (status, screen, stdout) = pty.finish();
    assert_eq!(status, 130, "{screen}");
    assert_eq!(stdout, "");
    let tail = after_last_countdown(&screen);
    let blank = tail.find(&format!("\r{}\r", " ".repeat(32))).unwrap();
    assert!(
        tail[blank..].contains(
            "ooauth2: error: the sign-in was interrupted (Ctrl-C); nothing was stored\r\n\
             ooauth2: hint: run the same command again to sign in\r\n"
        ),
        "{tail:?}"
    );
    assert!(env.records().is_empty(), "{:?}", env.records());
}

#[test]
fn an_expired_code_finishes_the_countdown_line_too() {
    let env = Env::new();
    env.idp.set_device_interval(1);
    env.idp.set_device_expires_in(2);
    env.idp.set_device_script(DeviceScript {
        pending_polls: 100,
        ..Default::default()
    });
    let args = env.args("token", USER, &[]);
    let pty = Pty::start(&env, &args, &[("TERM", "xterm")], (100, 60));
    let (status, screen, stdout) = pty.finish();
    assert_eq!(status, 1, "{screen}");
    assert_eq!(stdout, "");
    let tail = after_last_countdown(&screen);
    let blank = tail.find(&format!("\r{}\r", " ".repeat(32))).unwrap();
    assert!(tail[blank..].contains("ooauth2: error:"), "{tail:?}");
}

/// `ooauth2 login` for `USER` with pipes and no controlling terminal.
fn login_in_a_pipe(env: &Env, extra: &[&str], vars: &[(&str, &str)]) -> Run {
    let args = env.args("login", USER, extra);
    let mut cmd = env.command_via(&["setsid", "-w"], &args);
    cmd.envs(vars.iter().copied());
    env.run_with(cmd, b"")
}

#[test]
fn in_a_pipe_the_text_stays_plain() {
    let env = Env::new();
    approve_after(&env, 1);
    let run = login_in_a_pipe(&env, &[], &[("TERM", "xterm")]);
    run.expect(0);
    assert!(
        run.stderr.starts_with(&format!(
            "To sign in, use a web browser to open the page {}/devicelogin and enter the code ",
            env.idp.authority()
        )),
        "{run:#?}"
    );
    assert!(
        run.stderr
            .contains("Waiting for the sign-in (the code is valid for 15 minutes)...")
    );
    for bad in ['\x1b', '\r', '█', '▀', '▄'] {
        assert!(!run.stderr.contains(bad), "{bad:?} in {run:#?}");
    }
    assert!(!run.stderr.contains("code expires in"), "{run:#?}");
    assert!(!run.stderr.contains("otc="), "{run:#?}");
}

/// A stub `xdg-open` in its own directory that appends its arguments to
/// `xdg-open.argv` and the page it was given (a private file leading to
/// the sign-in page) to a log. Returns the directory (to put first on
/// PATH) and the log.
fn stub_xdg_open(env: &Env) -> (PathBuf, PathBuf) {
    let dir = env.root.join("stubs");
    std::fs::create_dir_all(&dir).unwrap();
    let log = env.root.join("xdg-open.log");
    let argv = env.root.join("xdg-open.argv");
    let script = dir.join("xdg-open");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> {}\ncat \"$1\" >> {}\necho XDG-OPEN-STDOUT\n",
            sh_quote(&argv.display().to_string()),
            sh_quote(&log.display().to_string())
        ),
    )
    .unwrap();
    set_mode(&script, 0o755);
    (dir, log)
}

/// The pages the stub was sent to (the link of each private page it was
/// given): waits a little for a late one.
fn opened(log: &Path, expected: bool) -> Vec<String> {
    let start = Instant::now();
    while expected && !log.exists() && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    if !expected {
        std::thread::sleep(Duration::from_millis(300));
    }
    let pages = std::fs::read_to_string(log).unwrap_or_default();
    pages
        .split("<a href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|href| href.replace("&quot;", "\"").replace("&amp;", "&"))
        .collect()
}

#[test]
fn device_flow_opens_the_browser_in_a_desktop_session_unless_told_not_to() {
    // (extra flags, DISPLAY, WAYLAND_DISPLAY, opened?)
    let cases: &[(&[&str], &str, &str, bool)] = &[
        (&[], ":0", "", true),
        (&[], "", "wayland-0", true),
        (&[], "", "", false),
        (&["--no-open"], ":0", "", false),
        (&["--open"], "", "", true),
    ];
    for (extra, display, wayland, expected) in cases {
        let env = Env::new();
        approve_after(&env, 2);
        let (dir, log) = stub_xdg_open(&env);
        let path = path_with(&dir);
        let mut vars = vec![("PATH", path.as_str())];
        if !display.is_empty() {
            vars.push(("DISPLAY", display));
        }
        if !wayland.is_empty() {
            vars.push(("WAYLAND_DISPLAY", wayland));
        }
        let run = login_in_a_pipe(&env, extra, &vars);
        run.expect(0);
        assert_eq!(run.stdout, "", "{run:#?}");
        let calls = opened(&log, *expected);
        let case = format!("{extra:?} DISPLAY={display} WAYLAND_DISPLAY={wayland}");
        if *expected {
            assert_eq!(calls.len(), 1, "{case}: {calls:?}");
            let page = format!("{}/devicelogin?otc=", env.idp.authority());
            assert!(calls[0].starts_with(&page), "{case}: {calls:?}");
            // The page with the code filled in: the code of this sign-in.
            let code = &calls[0][page.len()..];
            assert!(
                run.stderr.contains(&format!("enter the code {code} ")),
                "{run:#?}"
            );
            assert!(run.stderr.contains("XDG-OPEN-STDOUT"), "{run:#?}");
        } else {
            assert!(calls.is_empty(), "{case}: {calls:?}");
        }
    }
}

#[test]
fn device_flow_opens_the_plain_page_when_no_complete_uri_is_given() {
    let env = Env::new();
    approve_after(&env, 2);
    env.idp.set_device_uri_complete(false);
    let (dir, log) = stub_xdg_open(&env);
    let path = path_with(&dir);
    let run = login_in_a_pipe(&env, &[], &[("PATH", &path), ("DISPLAY", ":0")]);
    run.expect(0);
    assert_eq!(
        opened(&log, true),
        vec![format!("{}/devicelogin", env.idp.authority())]
    );
}

#[test]
fn authcode_flow_opens_the_browser_by_the_same_rules() {
    // (open_browser line, DISPLAY, opened?)
    let cases = [
        ("", ":0", true),
        ("", "", false),
        ("open_browser=false\n", ":0", false),
        ("open_browser=true\n", "", true),
        ("open_browser=auto\n", ":0", true),
    ];
    for (line, display, expected) in cases {
        let env = Env::new();
        let (dir, log) = stub_xdg_open(&env);
        // Nobody comes back: the listener gives up after a second.
        let req = format!(
            "{}action=login\ninteractive=always\nflow=authcode\nsignin_timeout=1\n{line}\n",
            env.account_lines(USER)
        );
        let mut cmd = env.command(&["helper"]);
        cmd.env("PATH", path_with(&dir));
        if !display.is_empty() {
            cmd.env("DISPLAY", display);
        }
        let run = env.run_with(cmd, req.as_bytes());
        run.expect(1);
        assert_eq!(run.pairs()["error"], "expired_token", "{run:#?}");
        let url = run
            .stderr
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with("http://") && l.contains("/oauth2/v2.0/authorize?"))
            .unwrap()
            .to_string();
        let calls = opened(&log, expected);
        if expected {
            assert_eq!(calls, vec![url], "{line:?} DISPLAY={display}");
        } else {
            assert!(calls.is_empty(), "{line:?} DISPLAY={display}: {calls:?}");
        }
    }
}

/// Queues a device authorization answer whose page, code and message (or,
/// without `message`, none: ours names the page and the code) hold terminal
/// escapes (a title change, a screen clear, BEL, a C1 CSI), CR and LF before
/// a spoofed `ooauth2:` line, a line separator and a bidi override.
fn hostile_device_answer(env: &Env, message: bool) {
    let page = format!("{}/devicelogin", env.idp.authority());
    let mut answer = serde_json::json!({
        "verification_uri": format!(
            "{page}\x1b]0;PWNED-TITLE\x07\x1b[2J\r\nooauth2: error: SPOOFED-PAGE"
        ),
        "user_code": "AB12\x1b[2J\rooauth2: error: SPOOFED-CODE",
        "verification_uri_complete": format!("{page}?otc=AB12\x1b]0;PWNED-TITLE\x07"),
        "message": "Open the page\x1b]0;PWNED-TITLE\x07 \u{202e}\u{2028}ooauth2: error: \
                    SPOOFED-MESSAGE\n\u{9b}2J and sign in",
    });
    if !message {
        answer["message"] = serde_json::Value::Null;
    }
    env.idp.push_fault(Fault::Patch(answer));
}

/// `text` (a screen, stderr, a notifier's log) holds none of the hostile
/// characters, and no line, however a terminal breaks it, starts with the
/// spoofed `ooauth2:`; the provider's words are still there to read.
#[track_caller]
fn assert_neutralised(text: &str, needles: &[&str]) {
    for bad in ['\x1b', '\x07', '\u{9b}', '\u{202e}', '\u{2028}'] {
        assert!(!text.contains(bad), "{bad:?} in {text:?}");
    }
    for line in text.split(['\r', '\n', '\u{2028}']) {
        assert!(
            !line.trim_start().starts_with("ooauth2: error: SPOOFED"),
            "a spoofed line {line:?} in {text:?}"
        );
    }
    for n in needles {
        assert!(text.contains(n), "{n:?} not shown in {text:?}");
    }
}

#[test]
fn provider_strings_with_escapes_are_neutralised_on_the_terminal() {
    let env = Env::new();
    approve_after(&env, 1);
    hostile_device_answer(&env, true);
    let args = env.args("token", USER, &[]);
    let vars = [("TERM", "xterm"), ("NO_COLOR", "1")];
    let pty = Pty::start(&env, &args, &vars, (100, 60));
    let (status, screen, stdout) = pty.finish();
    assert_eq!(status, 0, "{screen}");
    assert_neutralised(&screen, &["SPOOFED-PAGE", "SPOOFED-CODE", "PWNED-TITLE"]);
    assert_eq!(stdout, format!("{}\n", env.cached_access_token(USER)));
}

#[test]
fn provider_strings_with_escapes_are_neutralised_in_a_pipe_and_for_notifiers() {
    let env = Env::new();
    approve_after(&env, 1);
    hostile_device_answer(&env, false);
    let (dir, _) = stub_xdg_open(&env);
    let log = env.root.join("notify.log");
    let recorder = format!(
        "#!/bin/sh\n{{ printf '%s\\n' \"$@\"; env; }} >> {}\n",
        sh_quote(&log.display().to_string())
    );
    let notify_send = dir.join("notify-send");
    std::fs::write(&notify_send, &recorder).unwrap();
    set_mode(&notify_send, 0o755);
    let path = path_with(&dir);
    // notify_cmd first, then notify-send (a desktop session, no notify_cmd).
    let cmd = notify_send.display().to_string();
    let with_cmd = [
        ("PATH", path.as_str()),
        ("OOAUTH2_NOTIFY_CMD", cmd.as_str()),
    ];
    let run = login_in_a_pipe(&env, &["--no-open"], &with_cmd);
    run.expect(0);
    assert_neutralised(&run.stderr, &["SPOOFED-PAGE", "SPOOFED-CODE"]);
    approve_after(&env, 1);
    hostile_device_answer(&env, true);
    let desktop = [("PATH", path.as_str()), ("DISPLAY", ":0")];
    let run = login_in_a_pipe(&env, &["--no-open"], &desktop);
    run.expect(0);
    assert_neutralised(&run.stderr, &["SPOOFED-MESSAGE"]);
    let told = std::fs::read_to_string(&log).unwrap();
    assert_neutralised(&told, &["OOAUTH2_USER_CODE=AB12", "SPOOFED-PAGE"]);
    assert!(told.contains("--app-name=ooauth2"), "{told}");
}
