//! The running app without a display: the state the tray shows ([`core`]), the long-running services and the
//! tasks that connect them ([`services`]) and carrying out the actions every entry point produces
//! ([`apply`]). Starting it all, with the control socket, is [`crate::launch`]'s.

pub mod apply;
pub mod core;
pub mod notifications;
pub mod services;
mod tasks;
