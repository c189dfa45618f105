//! The connection to PipeWire: a thread of its own runs PipeWire's main loop, follows every node, client and
//! link in the graph, and sends a [`CaptureReading`] each time the reading changes. It wakes only when the
//! graph changes (PipeWire's loop waits on its socket), so an idle desktop costs nothing.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::thread::JoinHandle;

use pipewire as pw;
use pw::client::Client;
use pw::link::Link;
use pw::node::{Node, NodeState};
use pw::proxy::{Listener, ProxyT};
use pw::registry::GlobalObject;
use pw::types::ObjectType;
use tokio::sync::watch;

use super::graph::{CaptureReading, Graph, NodeSeen};
use crate::error::{Result, SourceError};

/// Watches PipeWire until dropped.
pub struct CaptureWatcher {
    readings: watch::Receiver<CaptureReading>,
    stop: pw::channel::Sender<()>,
    thread: Option<JoinHandle<()>>,
}

impl CaptureWatcher {
    /// Connects to the user's PipeWire (`$XDG_RUNTIME_DIR/pipewire-0`, or `PIPEWIRE_REMOTE`) and starts
    /// following its graph. Streams of `own_process` never count. Fails when no PipeWire answers.
    pub fn start(own_process: u32) -> Result<CaptureWatcher> {
        let (readings_tx, readings) = watch::channel(CaptureReading::default());
        let (stop, stop_rx) = pw::channel::channel::<()>();
        let (started_tx, started) = std::sync::mpsc::channel::<Result<()>>();
        let thread = std::thread::Builder::new()
            .name("caret-pipewire".into())
            .spawn(move || {
                // Every failure comes before the start is reported, so the caller is still waiting for it.
                if let Err(error) = follow_graph(own_process, readings_tx, stop_rx, &started_tx) {
                    let _ = started_tx.send(Err(error));
                }
            })
            .map_err(SourceError::Thread)?;
        match started.recv() {
            Ok(Ok(())) => Ok(CaptureWatcher {
                readings,
                stop,
                thread: Some(thread),
            }),
            Ok(Err(error)) => {
                let _ = thread.join();
                Err(error)
            }
            Err(_) => {
                let _ = thread.join();
                Err(SourceError::PipeWire {
                    step: "start",
                    reason: "the PipeWire thread ended before connecting".into(),
                })
            }
        }
    }

    /// The readings, newest first; the sender closes if the connection to PipeWire is lost.
    pub fn readings(&self) -> watch::Receiver<CaptureReading> {
        self.readings.clone()
    }
}

impl Drop for CaptureWatcher {
    fn drop(&mut self) {
        let _ = self.stop.send(());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A bound object and its listener: dropping them unbinds.
type BoundObject = (Box<dyn ProxyT>, Box<dyn Listener>);

/// The objects bound so far, by global id.
#[derive(Default)]
struct Bound {
    proxies: HashMap<u32, BoundObject>,
}

/// What the loop's callbacks share (all on the PipeWire thread).
struct Shared {
    graph: RefCell<Graph>,
    bound: RefCell<Bound>,
    own_process: u32,
    readings: watch::Sender<CaptureReading>,
}

impl Shared {
    fn publish(&self) {
        let reading = self.graph.borrow().reading(self.own_process);
        self.readings.send_if_modified(|current| {
            let changed = *current != reading;
            *current = reading;
            changed
        });
    }
}

/// A failed step of connecting, for the error.
fn failed(step: &'static str) -> impl FnOnce(pw::Error) -> SourceError {
    move |error| SourceError::PipeWire {
        step,
        reason: error.to_string(),
    }
}

/// Runs on the PipeWire thread until `stop` says so or the server goes away.
fn follow_graph(
    own_process: u32,
    readings: watch::Sender<CaptureReading>,
    stop: pw::channel::Receiver<()>,
    started: &std::sync::mpsc::Sender<Result<()>>,
) -> Result<()> {
    pw::init();
    let main_loop = pw::main_loop::MainLoopRc::new(None).map_err(failed("making its main loop"))?;
    let context = pw::context::ContextRc::new(&main_loop, None).map_err(failed("making its context"))?;
    let core = context
        .connect_rc(None)
        .map_err(failed("connecting to the server"))?;
    let registry = core.get_registry_rc().map_err(failed("reading its registry"))?;

    let quit = main_loop.downgrade();
    let _stop = stop.attach(main_loop.loop_(), move |()| {
        if let Some(main_loop) = quit.upgrade() {
            main_loop.quit();
        }
    });
    // The server going away (restarted, logged out) ends the loop: the readings' sender closes with it.
    let quit = main_loop.downgrade();
    let _core_listener = core
        .add_listener_local()
        .error(move |id, _seq, _res, message| {
            if id == pw::core::PW_ID_CORE {
                tracing::warn!("PipeWire: {message}");
                if let Some(main_loop) = quit.upgrade() {
                    main_loop.quit();
                }
            }
        })
        .register();

    let shared = Rc::new(Shared {
        graph: RefCell::new(Graph::default()),
        bound: RefCell::new(Bound::default()),
        own_process,
        readings,
    });
    let registry_weak = registry.downgrade();
    let on_global = Rc::downgrade(&shared);
    let on_remove = Rc::downgrade(&shared);
    let _registry_listener = registry
        .add_listener_local()
        .global(move |global| {
            if let (Some(registry), Some(shared)) = (registry_weak.upgrade(), on_global.upgrade()) {
                bind(&registry, global, &shared);
            }
        })
        .global_remove(move |id| {
            if let Some(shared) = on_remove.upgrade() {
                shared.bound.borrow_mut().proxies.remove(&id);
                shared.graph.borrow_mut().removed(id);
                shared.publish();
            }
        })
        .register();

    let _ = started.send(Ok(()));
    main_loop.run();
    Ok(())
}

fn number(props: Option<&pw::spa::utils::dict::DictRef>, key: &str) -> Option<u32> {
    props
        .and_then(|props| props.get(key))
        .and_then(|value| value.parse().ok())
}

fn flag(props: Option<&pw::spa::utils::dict::DictRef>, key: &str) -> bool {
    props.and_then(|props| props.get(key)) == Some("true")
}

/// What a node's properties tell about it, read when they change.
fn node_seen(props: Option<&pw::spa::utils::dict::DictRef>, running: bool) -> NodeSeen {
    let text = |key: &str| props.and_then(|props| props.get(key));
    NodeSeen {
        media_class: text("media.class").unwrap_or_default().to_owned(),
        running,
        monitor: flag(props, "stream.monitor"),
        capture_sink: flag(props, "stream.capture.sink"),
        process_id: number(props, "application.process.id"),
        client_id: number(props, "client.id"),
        device_api: text("device.api").map(str::to_owned),
    }
}

/// Follows a node, a client or a link; other globals do not matter here.
fn bind(
    registry: &pw::registry::RegistryRc,
    global: &GlobalObject<&pw::spa::utils::dict::DictRef>,
    shared: &Rc<Shared>,
) {
    let id = global.id;
    let bound: Option<BoundObject> = match global.type_ {
        ObjectType::Node => registry.bind::<Node, _>(global).ok().map(|node| {
            let weak = Rc::downgrade(shared);
            let listener = node
                .add_listener_local()
                .info(move |info| {
                    let Some(shared) = weak.upgrade() else { return };
                    let running = matches!(info.state(), NodeState::Running);
                    if info.change_mask().contains(pw::node::NodeChangeMask::PROPS) {
                        let seen = node_seen(info.props(), running);
                        shared.graph.borrow_mut().node_changed(id, seen);
                    } else {
                        shared.graph.borrow_mut().node_running(id, running);
                    }
                    shared.publish();
                })
                .register();
            (
                Box::new(node) as Box<dyn ProxyT>,
                Box::new(listener) as Box<dyn Listener>,
            )
        }),
        ObjectType::Client => registry.bind::<Client, _>(global).ok().map(|client| {
            let weak = Rc::downgrade(shared);
            let listener = client
                .add_listener_local()
                .info(move |info| {
                    let Some(shared) = weak.upgrade() else { return };
                    // Properties come only when they changed; an update without them keeps what we know.
                    if !info.change_mask().contains(pw::client::ClientChangeMask::PROPS) {
                        return;
                    }
                    let process = number(info.props(), "application.process.id");
                    shared.graph.borrow_mut().client_changed(id, process);
                    shared.publish();
                })
                .register();
            (
                Box::new(client) as Box<dyn ProxyT>,
                Box::new(listener) as Box<dyn Listener>,
            )
        }),
        ObjectType::Link => registry.bind::<Link, _>(global).ok().map(|link| {
            let weak = Rc::downgrade(shared);
            let listener = link
                .add_listener_local()
                .info(move |info| {
                    let Some(shared) = weak.upgrade() else { return };
                    shared
                        .graph
                        .borrow_mut()
                        .link_changed(id, info.output_node_id(), info.input_node_id());
                    shared.publish();
                })
                .register();
            (
                Box::new(link) as Box<dyn ProxyT>,
                Box::new(listener) as Box<dyn Listener>,
            )
        }),
        _ => None,
    };
    if let Some(bound) = bound {
        shared.bound.borrow_mut().proxies.insert(id, bound);
    }
}
