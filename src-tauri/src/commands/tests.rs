use caret_app::{AppConfig, AppCore, AppPaths};
use tauri::Manager;
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder};
use tauri::webview::InvokeRequest;

fn app() -> tauri::App<MockRuntime> {
    let paths = AppPaths {
        config_dir: "/tmp/caret-c".into(),
        data_dir: "/tmp/caret-d".into(),
    };
    let config = AppConfig {
        paths,
        slack_api_url: "http://127.0.0.1:9/api".parse().expect("url"),
        relay: caret_app::config::RelaySettings {
            port: 0,
            loopback_only: true,
        },
        oauth_port: 0,
        browser: None,
    };
    let app = mock_builder()
        .invoke_handler(crate::ipc::handler())
        // The app's own context: its config and capabilities, so permissions are tested as shipped.
        .build(tauri::generate_context!())
        .expect("mock app builds");
    app.manage(AppCore::new(config, false));
    app
}

/// A Settings window in the mock app, for its page's calls.
fn settings_webview(app: &tauri::App<MockRuntime>) -> tauri::WebviewWindow<MockRuntime> {
    tauri::WebviewWindowBuilder::new(app, "settings", Default::default())
        .build()
        .expect("webview")
}

/// Where the app's own pages come from on Linux: a local origin, which the ACL lets call app commands.
const APP_ORIGIN: &str = "tauri://localhost";

fn call(
    webview: &tauri::WebviewWindow<MockRuntime>,
    command: &str,
    args: serde_json::Value,
) -> Result<serde_json::Value, serde_json::Value> {
    call_from(APP_ORIGIN, webview, command, args)
}

fn call_from(
    origin: &str,
    webview: &tauri::WebviewWindow<MockRuntime>,
    command: &str,
    args: serde_json::Value,
) -> Result<serde_json::Value, serde_json::Value> {
    let request = InvokeRequest {
        cmd: command.into(),
        callback: CallbackFn(0),
        error: CallbackFn(1),
        url: origin.parse().expect("url"),
        body: InvokeBody::Json(args),
        headers: Default::default(),
        invoke_key: INVOKE_KEY.to_string(),
    };
    get_ipc_response(webview, request).map(|body| body.deserialize::<serde_json::Value>().expect("JSON"))
}

#[test]
fn app_info_answers_in_the_shape_the_ui_was_generated_for() {
    let app = app();
    let webview = settings_webview(&app);
    let info = call(&webview, "app_info", serde_json::json!({})).expect("app_info answers");
    assert_eq!(info["headless"], false);
    assert_eq!(info["data_dir"], "/tmp/caret-d");
    assert_eq!(info["slack_api_url"], "http://127.0.0.1:9/api");
    assert_eq!(info["state_line"], "No phone paired yet");
    let keys: Vec<&str> = info
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    let generated = include_str!("../../../ui/src/bindings/AppInfo.ts");
    for key in keys {
        assert!(generated.contains(&format!("{key}:")), "AppInfo.ts lacks {key}");
    }
}

#[test]
fn perform_takes_an_action_as_the_generated_types_spell_it() {
    let app = app();
    let webview = settings_webview(&app);
    let action = serde_json::json!({"action": {"type": "open_window", "window": "settings"}});
    assert_eq!(call(&webview, "perform", action), Ok(serde_json::Value::Null));
    let misspelt = serde_json::json!({"action": {"type": "open_window", "window": "nowhere"}});
    assert!(
        call(&webview, "perform", misspelt).is_err(),
        "an action outside the generated type is refused"
    );
}

#[test]
fn a_remote_page_cannot_call_the_app() {
    let app = app();
    let webview = settings_webview(&app);
    let refused = call_from(
        "https://evil.example",
        &webview,
        "app_info",
        serde_json::json!({}),
    );
    assert!(refused.is_err(), "{refused:?}");
}

/// A call by name, as another process hands it over: the same answer as the webview's, and mistakes refused
/// with a code the UI can branch on.
#[test]
fn a_call_by_name_answers_as_a_webview_call_does_and_refuses_mistakes() {
    let app = app();
    let webview = settings_webview(&app);
    let caller = crate::commands::Caller {
        app: app.handle().clone(),
        window: None,
    };
    let by_name = |command: &str, args: serde_json::Value| {
        tauri::async_runtime::block_on(crate::ipc::dispatch(caller.clone(), command, args))
    };
    let answer = by_name("app_info", serde_json::Value::Null).expect("app_info answers");
    assert_eq!(
        answer,
        call(&webview, "app_info", serde_json::json!({})).expect("the webview's answer")
    );
    let preview = by_name(
        "preview_settings",
        serde_json::json!({"settings": caret_core::WorkspaceSettings::default()}),
    )
    .expect("a command with an argument");
    assert!(preview.is_object(), "{preview}");

    let wrong = by_name("revoke_device", serde_json::json!({"deviceId": 5})).expect_err("a number");
    assert_eq!(wrong.code(), "bad_arguments", "{wrong}");
    assert!(wrong.to_string().contains("revoke_device"), "{wrong}");
    let missing = by_name("revoke_device", serde_json::json!({})).expect_err("no device");
    assert_eq!(missing.code(), "bad_arguments", "{missing}");
    let unknown = by_name("format_disk", serde_json::json!({})).expect_err("not ours");
    assert_eq!(unknown.code(), "unknown_command", "{unknown}");
}

/// The window host's handler, as the shipped windows have it: a remote page is refused by the capabilities
/// before anything is forwarded; the app's own page is forwarded to the app by name (none runs here, which the
/// page is told with its own code rather than left waiting).
#[test]
fn the_window_host_forwards_only_the_app_s_own_pages_and_says_when_the_app_is_gone() {
    let nowhere = tempfile::tempdir().expect("a directory");
    let paths = AppPaths {
        config_dir: nowhere.path().into(),
        data_dir: nowhere.path().into(),
    };
    let app = mock_builder()
        .invoke_handler(crate::host::forwarder(paths))
        .build(tauri::generate_context!())
        .expect("mock app builds");
    let webview = settings_webview(&app);
    let refused = call_from(
        "https://evil.example",
        &webview,
        "workspaces",
        serde_json::json!({}),
    )
    .expect_err("a remote page");
    assert!(
        refused.to_string().contains("not allowed"),
        "refused by the capabilities, not by a missing app: {refused}"
    );
    let unreachable = call(&webview, "workspaces", serde_json::json!({})).expect_err("no app runs");
    assert_eq!(unreachable["code"], "app_unreachable", "{unreachable}");
}
