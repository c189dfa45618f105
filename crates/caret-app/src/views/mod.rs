//! What the windows and the tray show, computed without a display: the Settings preview, the tray icon and
//! the sync log's export. Each reads the runtime's state; nothing in the runtime depends on them.

pub mod export;
pub mod preview;
pub mod tray_icon;
