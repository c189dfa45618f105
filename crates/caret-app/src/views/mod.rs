//! What the windows and the tray show, computed without a display: the Settings preview, the tray icon, and
//! the sync log's pages and export (read off the async threads). Each reads the runtime's state; nothing in the runtime depends on them.

pub mod export;
pub mod preview;
pub mod sync_log;
pub mod tray_icon;
