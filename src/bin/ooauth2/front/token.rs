//! `ooauth2 token`, `login` and `erase`: the flags become the typed request
//! every front end builds, the engine answers, and the answer is printed as
//! the mail client wants it (one line on stdout, or a sentence on stderr).

use crate::args::{AccountArgs, Format, LoginArgs, TokenArgs};
use crate::context::Context;
use crate::output::{minutes, print_stdout, warn};
use ooauth2::engine::Outcome;
use ooauth2::error::Result;
use ooauth2::request::Action;
use ooauth2::sasl;

/// `token`: a valid access token on one line.
pub fn token(ctx: &Context, args: &TokenArgs) -> Result<()> {
    let mut raw = args.account.raw(Action::Get)?;
    raw.min_ttl.clone_from(&args.min_ttl);
    raw.host.clone_from(&args.host);
    raw.port.clone_from(&args.port);
    if args.non_interactive {
        raw.interactive = Some("never".into());
    }
    args.signin.apply(&mut raw);
    let req = ctx.request(raw)?;
    let a = ctx.token(&req, false)?;
    warn(&a);
    let token = a.access_token.expose();
    let line = match args.format {
        Format::Raw => token.to_string(),
        Format::Xoauth2 => sasl::xoauth2(&a.user, token),
        Format::Oauthbearer => sasl::oauthbearer(&a.user, req.host(), req.port(), token),
        Format::Json => serde_json::json!({
            "user": a.user,
            "access_token": token,
            "token_type": a.token_type,
            "expires_at": a.expires_at,
            "expires_in": a.expires_in,
            "scope": a.scope,
            "source": a.source.as_str(),
        })
        .to_string(),
    };
    print_stdout(&format!("{line}\n"))
}

/// `login`: a new sign-in, whatever is stored.
pub fn login(ctx: &Context, args: &LoginArgs) -> Result<()> {
    let mut raw = args.account.raw(Action::Login)?;
    raw.interactive = Some("always".into());
    args.signin.apply(&mut raw);
    let req = ctx.request(raw)?;
    let a = ctx.token(&req, true)?;
    eprintln!(
        "ooauth2: signed in as {}; the access token is valid for {}, and the next \
         'ooauth2 token' after that renews it (nothing runs in the background)",
        a.user,
        minutes(a.expires_in)
    );
    Ok(())
}

/// `erase`: forget a stored account.
pub fn erase(ctx: &Context, args: &AccountArgs) -> Result<()> {
    let req = ctx.request(args.raw(Action::Erase)?)?;
    let Outcome::Erased {
        user,
        existed,
        missing,
    } = ctx.run(&req, false)?
    else {
        return Ok(());
    };
    if let Some(e) = missing {
        return Err(e);
    }
    let user = user.unwrap_or_default();
    if existed {
        eprintln!("ooauth2: erased {user}");
    } else {
        // Another process erased it between the look and the lock.
        eprintln!("ooauth2: {user} was erased meanwhile by another ooauth2 process");
    }
    Ok(())
}
