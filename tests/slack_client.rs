//! The Slack client against the local Slack server: every documented answer becomes the right typed error,
//! and statuses behave as Slack's reference says. No display needed.

use std::time::Duration;

use caret_e2e::fake_slack::{FakeSlack, Fault, Status, TestClock};
use caret_slack::{
    AuthFailure, ErrorClass, ProfileStatus, SlackClient, SlackError, SlackToken, WirePresence,
};

async fn setup(scopes: &[&str]) -> (FakeSlack, SlackClient, SlackToken, String) {
    let slack = FakeSlack::start(TestClock::new()).await;
    let raw = slack.add_user("Acme", "ada", scopes);
    let base = slack.base_url().parse().expect("the fake's base URL parses");
    let client = SlackClient::new(base, Duration::from_secs(5)).expect("client builds");
    let token = SlackToken::parse(&raw).expect("the fake issues user tokens");
    (slack, client, token, raw)
}

fn status(text: &str, emoji: &str, expiration: i64) -> ProfileStatus {
    ProfileStatus {
        status_text: text.into(),
        status_emoji: emoji.into(),
        status_expiration: expiration,
    }
}

#[tokio::test]
async fn auth_test_names_the_user_team_and_granted_scopes() {
    let (_slack, client, token, _) = setup(&FakeSlack::FULL_SCOPES).await;
    let info = client.auth_test(&token).await.unwrap();
    assert_eq!((info.team.as_str(), info.user.as_str()), ("Acme", "ada"));
    assert!(info.team_id.starts_with('T') && info.user_id.starts_with('U'));
    assert_eq!(info.scopes, FakeSlack::FULL_SCOPES);
    assert!(info.has_scope("users.profile:write"));
}

#[tokio::test]
async fn a_status_set_is_read_back_and_cleared_by_emptying_both_fields() {
    let (slack, client, token, raw) = setup(&FakeSlack::FULL_SCOPES).await;
    let kept = client
        .profile_set(&token, &status("In a call", ":telephone_receiver:", 0))
        .await
        .unwrap();
    assert_eq!(kept, status("In a call", ":telephone_receiver:", 0));
    assert_eq!(client.profile_get(&token).await.unwrap(), kept);
    assert_eq!(slack.status(&raw).text, "In a call");

    client
        .profile_set(&token, &ProfileStatus::cleared())
        .await
        .unwrap();
    assert!(client.profile_get(&token).await.unwrap().is_clear());
}

#[tokio::test(start_paused = true)]
async fn a_status_clears_itself_at_its_expiration() {
    let clock = TestClock::new();
    let slack = FakeSlack::start(clock).await;
    let raw = slack.add_user("Acme", "ada", &FakeSlack::FULL_SCOPES);
    let client = SlackClient::new(slack.base_url().parse().unwrap(), Duration::from_secs(5)).unwrap();
    let token = SlackToken::parse(&raw).unwrap();
    let expires = clock.unix_seconds() + 60;
    client
        .profile_set(&token, &status("Driving", ":car:", expires))
        .await
        .unwrap();
    tokio::time::advance(Duration::from_secs(59)).await;
    assert_eq!(client.profile_get(&token).await.unwrap().status_text, "Driving");
    tokio::time::advance(Duration::from_secs(2)).await;
    assert!(
        client.profile_get(&token).await.unwrap().is_clear(),
        "Slack cleared it at the expiration"
    );
}

#[tokio::test]
async fn text_over_100_characters_is_refused_as_a_mapping_bug() {
    let (_slack, client, token, _) = setup(&FakeSlack::FULL_SCOPES).await;
    let error = client
        .profile_set(&token, &status(&"x".repeat(101), "", 0))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, SlackError::Refused { code, .. } if code == "too_long"),
        "{error}"
    );
    assert_eq!(error.class(), ErrorClass::Bug);
    client
        .profile_set(&token, &status(&"x".repeat(100), "", 0))
        .await
        .expect("exactly 100 is fine");
}

#[tokio::test]
async fn unknown_and_raw_unicode_emoji_are_refused() {
    let (slack, client, token, _) = setup(&FakeSlack::FULL_SCOPES).await;
    let unknown = client
        .profile_set(&token, &status("Hi", ":no_such_emoji:", 0))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), "profile_status_set_failed_not_valid_emoji");
    let raw = client
        .profile_set(&token, &status("Hi", "🚗", 0))
        .await
        .unwrap_err();
    assert_eq!(raw.code(), "profile_status_set_failed_not_emoji_syntax");
    assert_eq!(raw.class(), ErrorClass::Bug);
    slack.add_custom_emoji("acme_logo");
    client
        .profile_set(&token, &status("Hi", ":acme_logo:", 0))
        .await
        .expect("custom emoji on the workspace");
}

#[tokio::test]
async fn a_missing_scope_names_the_scope_to_add() {
    let (_slack, client, token, _) = setup(&["users.profile:read", "users:read"]).await;
    let error = client
        .profile_set(&token, &status("Busy", ":no_entry:", 0))
        .await
        .unwrap_err();
    let SlackError::MissingScope { needed, provided, .. } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(needed, "users.profile:write");
    assert_eq!(provided, &["users.profile:read", "users:read"]);
    assert_eq!(error.class(), ErrorClass::NeedsUser);
    let presence = client.set_presence(&token, WirePresence::Away).await.unwrap_err();
    assert!(matches!(presence, SlackError::MissingScope { ref needed, .. } if needed == "users:write"));
}

#[tokio::test]
async fn revoked_expired_and_unknown_tokens_disconnect() {
    let (slack, client, token, raw) = setup(&FakeSlack::FULL_SCOPES).await;
    slack.revoke(&raw);
    let error = client.profile_get(&token).await.unwrap_err();
    assert_eq!(
        error,
        SlackError::Auth {
            method: caret_slack::SlackMethod::UsersProfileGet,
            reason: AuthFailure::TokenRevoked
        }
    );
    assert_eq!(error.class(), ErrorClass::Disconnect);

    let other = slack.add_user("Acme", "bob", &FakeSlack::FULL_SCOPES);
    slack.expire_token(&other);
    let expired = client
        .auth_test(&SlackToken::parse(&other).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(
        expired,
        SlackError::Auth {
            reason: AuthFailure::TokenExpired,
            ..
        }
    ));

    let unknown = client
        .auth_test(&SlackToken::parse("xoxp-0000-0000-notissued").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(
        unknown,
        SlackError::Auth {
            reason: AuthFailure::InvalidAuth,
            ..
        }
    ));
}

#[tokio::test(start_paused = true)]
async fn the_eleventh_profile_set_in_a_minute_is_rate_limited_with_retry_after() {
    let (slack, client, token, _) = setup(&FakeSlack::FULL_SCOPES).await;
    for n in 0..10 {
        client
            .profile_set(&token, &status(&format!("n{n}"), "", 0))
            .await
            .unwrap();
        tokio::time::advance(Duration::from_secs(1)).await;
    }
    let error = client
        .profile_set(&token, &status("n10", "", 0))
        .await
        .unwrap_err();
    let SlackError::RateLimited { retry_after, .. } = error else {
        panic!("{error:?}")
    };
    // The first call was 10 s ago: the window frees in 50 s.
    assert_eq!(retry_after, Duration::from_secs(50));
    tokio::time::advance(retry_after).await;
    client
        .profile_set(&token, &status("n10", "", 0))
        .await
        .expect("allowed after Retry-After");
    assert_eq!(slack.count("users.profile.set", "ratelimited"), 1);
}

#[tokio::test]
async fn server_errors_are_retryable() {
    let (slack, client, token, _) = setup(&FakeSlack::FULL_SCOPES).await;
    slack.inject(Fault::server_error(503, 1));
    let error = client.profile_get(&token).await.unwrap_err();
    assert_eq!(
        error,
        SlackError::Server {
            method: caret_slack::SlackMethod::UsersProfileGet,
            status: 503
        }
    );
    assert_eq!(error.class(), ErrorClass::Retry);
    client
        .profile_get(&token)
        .await
        .expect("the fault was one call long");
}

#[tokio::test]
async fn a_hanging_server_is_a_timeout() {
    let slack = FakeSlack::start(TestClock::new()).await;
    let raw = slack.add_user("Acme", "ada", &FakeSlack::FULL_SCOPES);
    let client = SlackClient::new(slack.base_url().parse().unwrap(), Duration::from_millis(300)).unwrap();
    slack.inject(Fault::hang(Duration::from_secs(5), 1));
    let error = client
        .profile_get(&SlackToken::parse(&raw).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(error, SlackError::Timeout { .. }), "{error:?}");
    assert_eq!(error.class(), ErrorClass::Retry);
}

#[tokio::test]
async fn an_unreachable_slack_is_a_network_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let client = SlackClient::new(
        format!("http://127.0.0.1:{port}/api").parse().unwrap(),
        Duration::from_secs(2),
    )
    .unwrap();
    let error = client
        .auth_test(&SlackToken::parse("xoxp-1-2-abcdefgh").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(error, SlackError::Network { .. }), "{error:?}");
    assert!(
        !error.to_string().contains("abcdefgh"),
        "errors never carry the token"
    );
}

#[tokio::test]
async fn presence_is_set_and_read() {
    let (slack, client, token, raw) = setup(&FakeSlack::FULL_SCOPES).await;
    client.set_presence(&token, WirePresence::Away).await.unwrap();
    assert!(slack.account(&raw).manual_away);
    let info = client.get_presence(&token).await.unwrap();
    assert_eq!(info.presence, "away");
    assert!(info.manual_away);
    client.set_presence(&token, WirePresence::Auto).await.unwrap();
    assert_eq!(client.get_presence(&token).await.unwrap().presence, "active");
}

#[tokio::test]
async fn the_user_changing_the_status_in_slack_is_visible_to_the_client() {
    let (slack, client, token, raw) = setup(&FakeSlack::FULL_SCOPES).await;
    slack.user_sets_status(
        &raw,
        Status {
            text: "Lunch".into(),
            emoji: ":coffee:".into(),
            expiration: 0,
        },
    );
    assert_eq!(
        client.profile_get(&token).await.unwrap(),
        status("Lunch", ":coffee:", 0)
    );
}

#[tokio::test(start_paused = true)]
async fn tier_limits_apply_per_method_per_workspace() {
    let (slack, client, token, _) = setup(&FakeSlack::FULL_SCOPES).await;
    // users.setPresence is tier 2: 20 a minute for the workspace.
    for _ in 0..20 {
        client
            .set_presence(&token, WirePresence::Auto)
            .await
            .expect("within the tier");
    }
    let error = client.set_presence(&token, WirePresence::Auto).await.unwrap_err();
    assert!(
        matches!(error, SlackError::RateLimited { retry_after, .. } if retry_after == Duration::from_secs(60)),
        "{error:?}"
    );
    client
        .get_presence(&token)
        .await
        .expect("another method has its own window");
    tokio::time::advance(Duration::from_secs(60)).await;
    client
        .set_presence(&token, WirePresence::Auto)
        .await
        .expect("the window moved on");
    assert_eq!(slack.count("users.setPresence", "ratelimited"), 1);
}

/// An authorize request to the local Slack as a browser makes it; returns the redirect's query.
async fn authorize(slack: &FakeSlack, redirect_uri: &str, challenge: &str) -> (u16, Vec<(String, String)>) {
    let browser = caret_e2e::browser::browser();
    let mut url = url::Url::parse(&format!("http://{}/oauth/v2/authorize", slack.addr)).expect("url");
    url.query_pairs_mut()
        .append_pair("client_id", "11.22")
        .append_pair("user_scope", "users.profile:write")
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("state", "s")
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256");
    let answer = browser.get(url).send().await.expect("answer");
    let status = answer.status().as_u16();
    let location = answer
        .headers()
        .get("location")
        .and_then(|value| value.to_str().ok())
        .map(|value| url::Url::parse(value).expect("redirect URL"));
    let query = location
        .map(|url| url.query_pairs().into_owned().collect())
        .unwrap_or_default();
    (status, query)
}

#[tokio::test]
async fn the_code_exchange_checks_the_pkce_verifier_the_redirect_and_single_use() {
    use caret_e2e::fake_slack::OAuthApp;
    use caret_slack::Pkce;

    let (slack, client, _, raw) = setup(&FakeSlack::FULL_SCOPES).await;
    let redirect = "http://localhost:47824/oauth/callback";
    slack.register_app(OAuthApp {
        client_id: "11.22".into(),
        redirect_urls: vec![redirect.into()],
        token_rotation: true,
        token_lifetime: Duration::from_secs(43_200),
    });
    slack.sign_in_browser_as(Some(&raw));
    let pkce = Pkce::generate().unwrap();
    let (status, _) = authorize(&slack, "http://localhost:9999/oauth/callback", &pkce.challenge()).await;
    assert_eq!(status, 400, "a redirect URL not registered is refused outright");

    let code_of = |query: &[(String, String)]| {
        query
            .iter()
            .find(|(key, _)| key == "code")
            .map(|(_, code)| code.clone())
            .expect("a code")
    };
    let (status, query) = authorize(&slack, redirect, &pkce.challenge()).await;
    assert_eq!(status, 302);
    let code = code_of(&query);
    let wrong = Pkce::generate().unwrap();
    let refused = client
        .oauth_exchange("11.22", &code, wrong.verifier(), redirect)
        .await
        .unwrap_err();
    assert_eq!(
        refused.code(),
        "invalid_code_verifier",
        "another verifier is refused"
    );
    // The refused attempt spent the code, as a real server would.
    let (_, query) = authorize(&slack, redirect, &pkce.challenge()).await;
    let code = code_of(&query);
    let refused = client
        .oauth_exchange("11.22", &code, pkce.verifier(), "http://localhost:1/other")
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "bad_redirect_uri");

    let (_, query) = authorize(&slack, redirect, &pkce.challenge()).await;
    let code = code_of(&query);
    let grant = client
        .oauth_exchange("11.22", &code, pkce.verifier(), redirect)
        .await
        .unwrap();
    assert!(grant.refresh_token.is_some() && grant.expires_in == Some(43_200));
    assert_eq!(grant.team_name.as_deref(), Some("Acme"));
    let again = client
        .oauth_exchange("11.22", &code, pkce.verifier(), redirect)
        .await
        .unwrap_err();
    assert_eq!(again.code(), "code_already_used");

    // The refresh token works once; the new access token works, the old one keeps working until it expires.
    let refresh = grant.refresh_token.clone().unwrap();
    let renewed = client.oauth_refresh("11.22", &refresh).await.unwrap();
    assert_ne!(renewed.access_token, grant.access_token);
    assert!(client.auth_test(&renewed.access_token).await.is_ok());
    assert!(client.auth_test(&grant.access_token).await.is_ok());
    let spent = client.oauth_refresh("11.22", &refresh).await.unwrap_err();
    assert_eq!(spent.code(), "invalid_refresh_token");

    // Revoked: Slack no longer takes it.
    assert!(client.auth_revoke(&renewed.access_token).await.unwrap());
    let after = client.auth_test(&renewed.access_token).await.unwrap_err();
    assert_eq!(after.class(), ErrorClass::Disconnect);
}

/// Do Not Disturb (issue 19, point 5's client): `dnd.setSnooze` form-encoded with `num_minutes` starts a snooze
/// that `dnd.info` reads back and ends by itself; `dnd.endSnooze` ends it, and says `snooze_not_active` when
/// none runs; a snooze the person started is seen as theirs through `dnd.info`; without `dnd:write` or
/// `dnd:read` the missing scope is named.
#[tokio::test]
async fn a_snooze_is_started_read_back_and_ended_and_a_missing_dnd_scope_is_named() {
    let (slack, client, token, raw) = setup(&FakeSlack::FULL_SCOPES).await;
    let quiet = client.dnd_info(&token).await.expect("dnd.info");
    assert!(
        !quiet.snooze_enabled && quiet.snooze_endtime.is_none(),
        "{quiet:?}"
    );

    let thirty = std::num::NonZeroU32::new(30).expect("30");
    let started = client.set_snooze(&token, thirty).await.expect("dnd.setSnooze");
    assert!(started.snooze_enabled, "{started:?}");
    let ends = started.snooze_endtime.expect("an end");
    let read = client.dnd_info(&token).await.expect("dnd.info");
    assert_eq!((read.snooze_enabled, read.snooze_endtime), (true, Some(ends)));
    assert_eq!(slack.account(&raw).snooze_until, Some(ends));

    let ended = client.end_snooze(&token).await.expect("dnd.endSnooze");
    assert!(!ended.snooze_enabled, "{ended:?}");
    let again = client.end_snooze(&token).await.unwrap_err();
    assert_eq!(again.code(), "snooze_not_active");

    // The person's own snooze is there to be seen before anything is changed.
    slack.user_snoozes(&raw, 45);
    let theirs = client.dnd_info(&token).await.expect("dnd.info");
    assert!(
        theirs.snooze_enabled && theirs.snooze_endtime.is_some(),
        "{theirs:?}"
    );

    // A snooze ends by itself at its end.
    slack.advance_clock(Duration::from_secs(46 * 60));
    let over = client.dnd_info(&token).await.expect("dnd.info");
    assert!(!over.snooze_enabled, "{over:?}");

    let without_dnd: Vec<&str> = FakeSlack::FULL_SCOPES
        .into_iter()
        .filter(|scope| !FakeSlack::DND_SCOPES.contains(scope))
        .collect();
    let (_slack, client, token, _) = setup(&without_dnd).await;
    let write = client.set_snooze(&token, thirty).await.unwrap_err();
    assert!(
        matches!(&write, SlackError::MissingScope { needed, .. } if needed == "dnd:write"),
        "{write:?}"
    );
    let read = client.dnd_info(&token).await.unwrap_err();
    assert!(
        matches!(&read, SlackError::MissingScope { needed, .. } if needed == "dnd:read"),
        "{read:?}"
    );
}
