//! A browser as a sign-in needs one: following Slack's authorize page back to the app's loopback callback,
//! each redirect by hand so that each hop can be checked.

/// An HTTP client that does not follow redirects.
pub fn browser() -> reqwest::Client {
    // reqwest is built without a crypto provider (the Slack client's choice): one is installed first.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // The redirects are followed by hand, so that each hop can be checked.
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client")
}

/// Goes through Slack's authorize page as the browser would and returns the callback page's status and text,
/// and the callback URL.
pub async fn follow_in_browser(link: &str) -> (u16, String, String) {
    follow_in(&browser(), link).await
}

/// [`follow_in_browser`] with a given client: one browser that keeps its connections open across sign-ins.
pub async fn follow_in(http: &reqwest::Client, link: &str) -> (u16, String, String) {
    let at_slack = http.get(link).send().await.expect("the authorize page answers");
    assert_eq!(at_slack.status().as_u16(), 302, "Slack approves and redirects");
    let callback = at_slack
        .headers()
        .get("location")
        .and_then(|value| value.to_str().ok())
        .expect("a redirect")
        .to_owned();
    let page = http
        .get(&callback)
        .send()
        .await
        .expect("the app's callback answers");
    let status = page.status().as_u16();
    (status, page.text().await.unwrap_or_default(), callback)
}
