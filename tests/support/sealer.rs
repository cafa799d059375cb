//! An account's `command` secret store for the tests: real `age` or `gpg`
//! (a throwaway identity or key), its request lines and flags, and runs of
//! the binary with it.

use crate::support::run::{CLIENT, Env, Run, USER, set_mode, sh_quote};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// An account's `command` store: its two commands and what they need.
pub struct Sealer {
    pub encrypt: String,
    pub decrypt: String,
    /// Environment the commands need (`GNUPGHOME`).
    pub env: Vec<(String, PathBuf)>,
}

impl Sealer {
    /// `age` with an identity made for the test.
    pub fn age(env: &Env) -> Sealer {
        let key = env.root.join("age-key.txt");
        let public = age_identity(&key);
        Sealer {
            encrypt: format!("age -r {public}"),
            decrypt: format!("age -d -i {}", sh_quote(&key.to_string_lossy())),
            env: Vec::new(),
        }
    }

    /// `gpg` with a throwaway home and a key without passphrase.
    pub fn gpg(env: &Env) -> Sealer {
        let home = env.root.join("gnupg");
        std::fs::create_dir_all(&home).unwrap();
        set_mode(&home, 0o700);
        let made = Command::new("gpg")
            .env("GNUPGHOME", &home)
            .args(["--batch", "--passphrase", "", "--quick-gen-key"])
            .args([
                "ooauth2 test <seal@example.com>",
                "future-default",
                "default",
                "never",
            ])
            .output()
            .unwrap();
        assert!(made.status.success(), "gpg key: {made:?}");
        Sealer {
            encrypt: "gpg --batch -q -e -r seal@example.com".into(),
            decrypt: "gpg --batch -q -d".into(),
            env: vec![("GNUPGHOME".into(), home)],
        }
    }

    /// The same commands but `decrypt` for the decrypt command.
    pub fn decrypting_with(&self, decrypt: &str) -> Sealer {
        Sealer {
            encrypt: self.encrypt.clone(),
            decrypt: decrypt.into(),
            env: self.env.clone(),
        }
    }

    /// The same commands but `encrypt` for the encrypt command.
    pub fn encrypting_with(&self, encrypt: &str) -> Sealer {
        Sealer {
            encrypt: encrypt.into(),
            decrypt: self.decrypt.clone(),
            env: self.env.clone(),
        }
    }

    /// The helper protocol's lines for this store.
    pub fn lines(&self) -> String {
        format!(
            "secret_store=command\nencrypt_cmd={}\ndecrypt_cmd={}\n",
            self.encrypt, self.decrypt
        )
    }

    /// The flags for this store.
    pub fn flags(&self) -> Vec<String> {
        vec![
            "--secret-store".into(),
            "command".into(),
            "--encrypt-cmd".into(),
            self.encrypt.clone(),
            "--decrypt-cmd".into(),
            self.decrypt.clone(),
        ]
    }

    /// `ooauth2 helper` with the request for `USER`, this store and `extra` lines.
    pub fn helper(&self, env: &Env, extra: &str) -> Run {
        let req = format!("{}{}{extra}\n", env.account_lines(USER), self.lines());
        let mut cmd = env.command(&["helper"]);
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        env.run_with(cmd, req.as_bytes())
    }

    /// `ooauth2 token` for `USER` with this store, `extra` flags and environment.
    pub fn token(&self, env: &Env, extra: &[&str], vars: &[(&str, &str)]) -> Run {
        let mut args = env.args("token", USER, &[]);
        args.extend(self.flags());
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut cmd = env.command(&args);
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd.envs(vars.iter().copied());
        env.run_with(cmd, b"")
    }

    /// Starts `ooauth2 helper` for `USER` with this store and `extra`
    /// lines (`OOAUTH2_LOCK_TIMEOUT` 10 s), without waiting.
    pub fn start_helper(&self, env: &Env, extra: &str) -> Child {
        let mut cmd = env.helper_command(Some("10"));
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        let req = format!("{}{}{extra}\n\n", env.account_lines(USER), self.lines());
        env.start_with(cmd, &req)
    }

    /// What the encrypt command prints for `token`, run by hand as
    /// ooauth2 would (a seal whose record write never happened).
    pub fn seal_by_hand(&self, token: &str) -> String {
        self.pipe(&self.encrypt, token.as_bytes())
    }

    /// The refresh token a record's `refresh_token_sealed` (base64) holds,
    /// opened with the decrypt command as ooauth2 would.
    pub fn open(&self, sealed: &str) -> String {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(sealed)
            .unwrap();
        self.pipe(&self.decrypt, &bytes)
    }

    /// What `command` prints (its last newline dropped) for `input` on its
    /// stdin, run with `sh -c` in this store's environment.
    fn pipe(&self, command: &str, input: &[u8]) -> String {
        let mut child = Command::new("sh")
            .args(["-c", command])
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{command}: {out:?}");
        String::from_utf8(out.stdout)
            .unwrap()
            .trim_end()
            .to_string()
    }

    /// Imports a refresh token the mock issued, sealed: the record then holds
    /// no plaintext refresh token. Returns the token.
    pub fn seed(&self, env: &Env) -> String {
        let rt = env.idp.issue_refresh_token(USER, CLIENT);
        self.helper(env, &format!("action=store\nrefresh_token={rt}"))
            .expect(0);
        rt
    }
}

impl Drop for Sealer {
    // The gpg-agent a test started goes with its home.
    fn drop(&mut self) {
        for (_, home) in self.env.iter().filter(|(k, _)| k == "GNUPGHOME") {
            let _ = Command::new("gpgconf")
                .env("GNUPGHOME", home)
                .args(["--kill", "gpg-agent"])
                .output();
        }
    }
}

/// Makes an age identity in the file `key`; returns its recipient.
pub fn age_identity(key: &Path) -> String {
    let made = Command::new("age-keygen")
        .arg("-o")
        .arg(key)
        .output()
        .unwrap();
    assert!(made.status.success(), "age-keygen: {made:?}");
    let public = Command::new("age-keygen")
        .arg("-y")
        .arg(key)
        .output()
        .unwrap();
    String::from_utf8(public.stdout).unwrap().trim().to_string()
}
