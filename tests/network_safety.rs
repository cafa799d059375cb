//! What ooauth2 sends over the network, and to whom: the device flow's
//! polling pace, which requests go through a proxy (never a loopback one)
//! and what is shown of a proxy (never its credentials), and who may finish
//! a browser sign-in on the loopback listener (only the user who started
//! it; the `state` is never on a command line).

use crate::support::run::Env;
use mock_idp::{DeviceScript, Grant};
use std::time::Duration;

// ---------------------------------------------------------------------------
// The device flow's pace
// ---------------------------------------------------------------------------

#[test]
fn an_interval_of_zero_still_polls_at_most_once_a_second() {
    let env = Env::new();
    env.idp.set_device_interval(0);
    env.idp.set_device_expires_in(3);
    env.idp.set_device_script(DeviceScript {
        pending_polls: 1000,
        ..Default::default()
    });
    let run = env.helper("action=login\ninteractive=always");
    run.expect(1);
    assert_eq!(run.pairs()["error"], "expired_token", "{run:#?}");
    let polls = env.idp.token_requests(Grant::Device);
    // 3 s of waiting: the first poll at once (interval 0), then one a second.
    assert!(
        (2..=5).contains(&polls.len()),
        "{} polls in 3 s: {run:#?}",
        polls.len()
    );
    for pair in polls.windows(2) {
        let gap = pair[1].at.duration_since(pair[0].at);
        assert!(gap >= Duration::from_millis(900), "polls {gap:?} apart");
    }
}
