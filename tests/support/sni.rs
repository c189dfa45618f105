//! The tray as a desktop panel sees it. The app (tray-icon's ksni backend) exports its StatusNotifierItem and
//! its com.canonical.dbusmenu menu only when someone owns `org.kde.StatusNotifierWatcher`; [`Watcher`] is that
//! someone, so the test receives the registration, reads the menu and clicks items exactly like a panel.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use zbus::message::Header;
use zbus::object_server::SignalEmitter;
use zbus::zvariant::{OwnedObjectPath, OwnedValue, Structure, Value};
use zbus::{Connection, interface};

const WATCHER_NAME: &str = "org.kde.StatusNotifierWatcher";
const ITEM_INTERFACE: &str = "org.kde.StatusNotifierItem";
const MENU_INTERFACE: &str = "com.canonical.dbusmenu";

struct WatcherService {
    items: Arc<Mutex<Vec<String>>>,
    registered: mpsc::UnboundedSender<String>,
}

#[interface(name = "org.kde.StatusNotifierWatcher")]
impl WatcherService {
    async fn register_status_notifier_item(
        &self,
        service: &str,
        #[zbus(header)] header: Header<'_>,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
    ) {
        // Some items (libappindicator's) pass an object path; the item is then that path on the caller's bus name.
        let item = if service.starts_with('/') {
            let sender = header.sender().map(|name| name.to_string()).unwrap_or_default();
            format!("{sender}{service}")
        } else {
            format!("{service}/StatusNotifierItem")
        };
        self.items.lock().expect("items lock").push(item.clone());
        let _ = self.registered.send(item.clone());
        let _ = Self::status_notifier_item_registered(&emitter, &item).await;
    }

    fn register_status_notifier_host(&self, _service: &str) {}

    #[zbus(property)]
    fn registered_status_notifier_items(&self) -> Vec<String> {
        self.items.lock().expect("items lock").clone()
    }

    #[zbus(property)]
    fn is_status_notifier_host_registered(&self) -> bool {
        true
    }

    #[zbus(property)]
    fn protocol_version(&self) -> i32 {
        0
    }

    #[zbus(signal)]
    async fn status_notifier_item_registered(emitter: &SignalEmitter<'_>, service: &str) -> zbus::Result<()>;
}

/// A StatusNotifierWatcher owned by the test on the session bus.
pub struct Watcher {
    pub connection: Connection,
    registered: mpsc::UnboundedReceiver<String>,
}

impl Watcher {
    pub async fn start() -> Watcher {
        let (sender, registered) = mpsc::unbounded_channel();
        let service = WatcherService {
            items: Arc::default(),
            registered: sender,
        };
        let connection = zbus::connection::Builder::session()
            .expect("session bus")
            .name(WATCHER_NAME)
            .expect("watcher name")
            .serve_at("/StatusNotifierWatcher", service)
            .expect("serve watcher")
            .build()
            .await
            .expect("own org.kde.StatusNotifierWatcher (is another watcher running?)");
        Watcher {
            connection,
            registered,
        }
    }

    /// Waits for the next tray item to register.
    pub async fn next_item(&mut self, timeout: Duration) -> TrayItem {
        let address = tokio::time::timeout(timeout, self.registered.recv())
            .await
            .unwrap_or_else(|_| panic!("no tray item registered within {timeout:?}"))
            .expect("watcher alive");
        let (bus_name, path) = address.split_at(address.find('/').expect("item address has a path"));
        TrayItem {
            connection: self.connection.clone(),
            bus_name: bus_name.to_owned(),
            path: path.to_owned(),
        }
    }
}

/// A registered StatusNotifierItem.
pub struct TrayItem {
    connection: Connection,
    pub bus_name: String,
    pub path: String,
}

/// One entry of a dbusmenu layout.
#[derive(Debug, Clone)]
pub struct MenuEntry {
    pub id: i32,
    pub label: String,
    pub enabled: bool,
    pub separator: bool,
    /// A check (or radio) item that is ticked (`toggle-state` 1).
    pub checked: bool,
    pub children: Vec<MenuEntry>,
}

impl MenuEntry {
    /// The labels of the visible, non-separator entries at this level, in order.
    pub fn labels(&self) -> Vec<String> {
        self.children
            .iter()
            .filter(|entry| !entry.separator)
            .map(|entry| entry.label.clone())
            .collect()
    }

    pub fn find(&self, label: &str) -> Option<&MenuEntry> {
        self.children.iter().find(|entry| entry.label == label)
    }
}

impl TrayItem {
    async fn property(&self, name: &str) -> OwnedValue {
        let proxy = zbus::fdo::PropertiesProxy::builder(&self.connection)
            .destination(self.bus_name.as_str())
            .expect("bus name")
            .path(self.path.as_str())
            .expect("item path")
            .build()
            .await
            .expect("properties proxy");
        let interface = zbus::names::InterfaceName::try_from(ITEM_INTERFACE).expect("interface name");
        proxy
            .get(interface, name)
            .await
            .unwrap_or_else(|error| panic!("read {name}: {error}"))
    }

    pub async fn string_property(&self, name: &str) -> String {
        String::try_from(self.property(name).await).expect("a string property")
    }

    /// The item's `ToolTip` (`(sa(iiay)ss)`: icon name, icon pixmaps, title, description) as its title and
    /// description: what a host shows when the pointer rests on the icon.
    pub async fn tooltip(&self) -> (String, String) {
        type ToolTip = (String, Vec<(i32, i32, Vec<u8>)>, String, String);
        let (_icon, _pixmaps, title, description): ToolTip = self
            .property("ToolTip")
            .await
            .try_into()
            .expect("ToolTip is (sa(iiay)ss)");
        (title, description)
    }

    /// What the icon looks like: its name, or a digest of its pixmaps (`IconPixmap`, `a(iiay)`) when it is
    /// given as pixels, so that a test can see it change.
    pub async fn icon(&self) -> String {
        let name = self.string_property("IconName").await;
        if !name.is_empty() {
            return name;
        }
        let pixmaps: Vec<(i32, i32, Vec<u8>)> = self
            .property("IconPixmap")
            .await
            .try_into()
            .expect("IconPixmap is a(iiay)");
        let mut digest = std::collections::hash_map::DefaultHasher::new();
        std::hash::Hash::hash(&pixmaps, &mut digest);
        format!("pixmap {:x}", std::hash::Hasher::finish(&digest))
    }

    async fn menu_path(&self) -> OwnedObjectPath {
        OwnedObjectPath::try_from(self.property("Menu").await).expect("Menu is an object path")
    }

    /// The whole menu tree (`GetLayout(0, -1, [])`).
    pub async fn menu(&self) -> MenuEntry {
        let menu_path = self.menu_path().await;
        let reply = self
            .connection
            .call_method(
                Some(self.bus_name.as_str()),
                menu_path.as_str(),
                Some(MENU_INTERFACE),
                "GetLayout",
                &(0i32, -1i32, Vec::<String>::new()),
            )
            .await
            .expect("GetLayout");
        type Layout = (u32, (i32, HashMap<String, OwnedValue>, Vec<OwnedValue>));
        let (_revision, (id, properties, children)): Layout =
            reply.body().deserialize().expect("layout (u(ia{sv}av))");
        entry_from_parts(id, properties, children)
    }

    /// Waits until the menu's first line (the state line) reads `expected`; returns what it read last.
    pub async fn wait_for_state_line(&self, expected: &str, timeout: Duration) -> String {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let line = self.menu().await.labels().first().cloned().unwrap_or_default();
            if line == expected || tokio::time::Instant::now() >= deadline {
                return line;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A left click on the icon itself, as a panel passes it on (`Activate(x, y)`).
    pub async fn activate(&self) {
        self.connection
            .call_method(
                Some(self.bus_name.as_str()),
                self.path.as_str(),
                Some(ITEM_INTERFACE),
                "Activate",
                &(0i32, 0i32),
            )
            .await
            .expect("Activate");
    }

    /// Clicks an item the way a panel does (`Event(id, "clicked", 0, 0)`). A panel does not wait for the
    /// answer; a click on Quit may find the app gone before its answer is sent (the app's exit races the
    /// reply), so "no reply" is accepted there only: the tests that quit check the exit code next.
    pub async fn click(&self, entry: &MenuEntry) {
        let menu_path = self.menu_path().await;
        let answer = self
            .connection
            .call_method(
                Some(self.bus_name.as_str()),
                menu_path.as_str(),
                Some(MENU_INTERFACE),
                "Event",
                &(entry.id, "clicked", Value::from(0i32), 0u32),
            )
            .await;
        match answer {
            Ok(_) => {}
            Err(zbus::Error::MethodError(name, _, _))
                if entry.label.starts_with("Quit")
                    && name.as_str() == "org.freedesktop.DBus.Error.NoReply" => {}
            Err(error) => panic!("click {:?}: {error}", entry.label),
        }
    }
}

fn entry_from_parts(
    id: i32,
    properties: HashMap<String, OwnedValue>,
    children: Vec<OwnedValue>,
) -> MenuEntry {
    let text = |key: &str| {
        properties
            .get(key)
            .and_then(|value| String::try_from(value.clone()).ok())
    };
    let enabled = properties
        .get("enabled")
        .and_then(|value| bool::try_from(value.clone()).ok())
        .unwrap_or(true);
    MenuEntry {
        id,
        // dbusmenu marks mnemonics with '_'; panels hide it, so do we.
        label: text("label").unwrap_or_default().replace('_', ""),
        enabled,
        separator: text("type").as_deref() == Some("separator"),
        checked: properties
            .get("toggle-state")
            .and_then(|value| i32::try_from(value.clone()).ok())
            == Some(1),
        children: children.into_iter().map(child_entry).collect(),
    }
}

/// A child is a variant holding an `(ia{sv}av)` structure.
fn child_entry(child: OwnedValue) -> MenuEntry {
    let value: Value<'_> = child.into();
    let inner = match value {
        Value::Value(boxed) => *boxed,
        other => other,
    };
    let structure = Structure::try_from(inner).expect("child entry is a structure");
    let mut fields = structure.into_fields().into_iter();
    let (Some(id), Some(properties), Some(children)) = (fields.next(), fields.next(), fields.next()) else {
        panic!("a dbusmenu entry has three fields");
    };
    let id = i32::try_from(id).expect("entry id");
    let properties = HashMap::<String, OwnedValue>::try_from(properties.try_to_owned().expect("owned"))
        .expect("entry properties");
    let children = Vec::<OwnedValue>::try_from(children.try_to_owned().expect("owned")).expect("children");
    entry_from_parts(id, properties, children)
}
