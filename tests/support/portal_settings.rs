//! A desktop portal offering its settings on the test session bus, written from the documented D-Bus
//! interface `org.freedesktop.portal.Settings` (version 2: `ReadAll`, `Read`, `ReadOne`, `SettingChanged`),
//! with the one setting the app reads: `org.freedesktop.appearance` `color-scheme` (0 no preference, 1 prefer
//! dark, 2 prefer light). The test changes it as a user switching the desktop to dark mode would, and the
//! portal announces the change.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use zbus::zvariant::{OwnedValue, Value};
use zbus::{Connection, interface};

use crate::portal::{PORTAL_PATH, take_portal_name};

const APPEARANCE: &str = "org.freedesktop.appearance";
const COLOR_SCHEME: &str = "color-scheme";

pub const NO_PREFERENCE: u32 = 0;
pub const PREFER_DARK: u32 = 1;
pub const PREFER_LIGHT: u32 = 2;

struct SettingsPortal {
    color_scheme: Arc<Mutex<u32>>,
}

impl SettingsPortal {
    fn value(&self, namespace: &str, key: &str) -> zbus::fdo::Result<u32> {
        if namespace == APPEARANCE && key == COLOR_SCHEME {
            Ok(*self.color_scheme.lock().unwrap_or_else(PoisonError::into_inner))
        } else {
            Err(zbus::fdo::Error::Failed(format!("no setting {namespace} {key}")))
        }
    }
}

fn owned(value: Value<'_>) -> OwnedValue {
    value.try_to_owned().expect("a plain value")
}

#[interface(name = "org.freedesktop.portal.Settings")]
impl SettingsPortal {
    async fn read_all(&self, namespaces: Vec<String>) -> HashMap<String, HashMap<String, OwnedValue>> {
        let wanted = namespaces.is_empty()
            || namespaces
                .iter()
                .any(|pattern| pattern == APPEARANCE || pattern == "org.freedesktop.*");
        let mut all = HashMap::new();
        if wanted {
            let scheme = self.value(APPEARANCE, COLOR_SCHEME).unwrap_or(NO_PREFERENCE);
            all.insert(
                APPEARANCE.to_owned(),
                HashMap::from([(COLOR_SCHEME.to_owned(), owned(Value::U32(scheme)))]),
            );
        }
        all
    }

    /// Version 1's read, deprecated: the value comes wrapped in one more variant.
    async fn read(&self, namespace: &str, key: &str) -> zbus::fdo::Result<OwnedValue> {
        let value = self.value(namespace, key)?;
        Ok(owned(Value::Value(Box::new(Value::U32(value)))))
    }

    async fn read_one(&self, namespace: &str, key: &str) -> zbus::fdo::Result<OwnedValue> {
        Ok(owned(Value::U32(self.value(namespace, key)?)))
    }

    #[zbus(property)]
    fn version(&self) -> u32 {
        2
    }
}

/// The portal, serving until dropped.
pub struct FakeSettingsPortal {
    connection: Connection,
    color_scheme: Arc<Mutex<u32>>,
}

impl FakeSettingsPortal {
    /// Starts the portal with this colour scheme.
    pub async fn start(color_scheme: u32) -> FakeSettingsPortal {
        let color_scheme = Arc::new(Mutex::new(color_scheme));
        let connection = Connection::session().await.expect("session bus");
        connection
            .object_server()
            .at(
                PORTAL_PATH,
                SettingsPortal {
                    color_scheme: Arc::clone(&color_scheme),
                },
            )
            .await
            .expect("Settings");
        take_portal_name(&connection).await;
        FakeSettingsPortal {
            connection,
            color_scheme,
        }
    }

    /// The user switches the desktop's colour scheme: the setting changes and `SettingChanged` says so.
    pub async fn set_color_scheme(&self, scheme: u32) {
        *self.color_scheme.lock().unwrap_or_else(PoisonError::into_inner) = scheme;
        self.connection
            .emit_signal(
                None::<&str>,
                PORTAL_PATH,
                "org.freedesktop.portal.Settings",
                "SettingChanged",
                &(APPEARANCE, COLOR_SCHEME, Value::U32(scheme)),
            )
            .await
            .expect("SettingChanged is sent");
    }
}
