//! PipeWire's graph as far as recording goes, in plain data: the nodes, clients and links the watcher has
//! seen, and the one rule that reads "a microphone (or a camera) is in use" from them. Kept apart from the
//! PipeWire connection so that the rule is tested without an audio server.

use std::collections::HashMap;

/// A node, as far as the rule needs it (from its properties and its state).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeSeen {
    /// `media.class`: `Stream/Input/Audio` for an application recording sound, `Audio/Source` for a
    /// microphone, `Video/Source` for a camera, `Stream/Input/Video` for an application reading one.
    pub media_class: String,
    /// The node is moving data (`running`), not merely open (`idle`, `suspended`: a paused recorder).
    pub running: bool,
    /// `stream.monitor = true`: a level meter (pavucontrol and its kind open such a stream to draw a bar), not
    /// someone being recorded.
    pub monitor: bool,
    /// `stream.capture.sink = true`: recording what the speakers play, not a microphone.
    pub capture_sink: bool,
    /// `application.process.id` on the node itself (PulseAudio clients, through pipewire-pulse).
    pub process_id: Option<u32>,
    /// `client.id`: the client whose `application.process.id` names the process of a native client.
    pub client_id: Option<u32>,
    /// `device.api` (`alsa`, `v4l2`, `libcamera`…): the node is a device's, not a stream some program made.
    pub device_api: Option<String>,
}

/// What the desktop's capture devices are doing, as one reading.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaptureReading {
    /// Another application records from a microphone.
    pub microphone: bool,
    /// Another application reads a camera.
    pub camera: bool,
}

/// Every node, client and link seen so far, by PipeWire's global id.
#[derive(Debug, Default)]
pub struct Graph {
    nodes: HashMap<u32, NodeSeen>,
    /// A client's `application.process.id`.
    client_processes: HashMap<u32, u32>,
    /// A link's (output node, input node).
    links: HashMap<u32, (u32, u32)>,
}

const RECORDING_SOUND: &str = "Stream/Input/Audio";
const READING_VIDEO: &str = "Stream/Input/Video";

fn is_microphone(node: &NodeSeen) -> bool {
    node.media_class.starts_with("Audio/Source")
}

fn is_camera(node: &NodeSeen) -> bool {
    node.media_class == "Video/Source" && matches!(node.device_api.as_deref(), Some("v4l2" | "libcamera"))
}

impl Graph {
    pub fn node_changed(&mut self, id: u32, node: NodeSeen) {
        self.nodes.insert(id, node);
    }

    /// A node's state changed without its properties (PipeWire sends only what changed).
    pub fn node_running(&mut self, id: u32, running: bool) {
        if let Some(node) = self.nodes.get_mut(&id) {
            node.running = running;
        }
    }

    pub fn client_changed(&mut self, id: u32, process_id: Option<u32>) {
        match process_id {
            Some(process_id) => self.client_processes.insert(id, process_id),
            None => self.client_processes.remove(&id),
        };
    }

    pub fn link_changed(&mut self, id: u32, output_node: u32, input_node: u32) {
        self.links.insert(id, (output_node, input_node));
    }

    /// A global went away: whatever it was (node, client, link), it is forgotten.
    pub fn removed(&mut self, id: u32) {
        self.nodes.remove(&id);
        self.client_processes.remove(&id);
        self.links.remove(&id);
    }

    /// The process behind a node: its own `application.process.id`, else its client's.
    fn process_of(&self, node: &NodeSeen) -> Option<u32> {
        node.process_id.or_else(|| {
            node.client_id
                .and_then(|client| self.client_processes.get(&client).copied())
        })
    }

    /// Whether anything linked into `stream` comes from a node `feeds` accepts.
    fn fed_by(&self, stream: u32, feeds: impl Fn(&NodeSeen) -> bool) -> bool {
        self.links
            .values()
            .any(|(output, input)| *input == stream && self.nodes.get(output).is_some_and(&feeds))
    }

    /// Whether some application other than `own_process` records a microphone or reads a camera: a stream
    /// of that kind, running, not a level meter, fed by a microphone (an `Audio/Source…` node: a sound card's,
    /// or a virtual one such as a noise filter's; not the speakers' monitor) or by a camera (a `Video/Source`
    /// node of a camera device, `v4l2` or `libcamera`: a screen being shared through the desktop's portal is a
    /// `Video/Source` too on some desktops, but no device's).
    pub fn reading(&self, own_process: u32) -> CaptureReading {
        let mut reading = CaptureReading::default();
        for (id, node) in &self.nodes {
            if !node.running || node.monitor || node.capture_sink {
                continue;
            }
            if self.process_of(node) == Some(own_process) {
                continue;
            }
            match node.media_class.as_str() {
                RECORDING_SOUND if self.fed_by(*id, is_microphone) => reading.microphone = true,
                READING_VIDEO if self.fed_by(*id, is_camera) => reading.camera = true,
                _ => {}
            }
        }
        reading
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: u32 = 4242;
    const MIC: u32 = 30;
    const SPEAKERS: u32 = 31;
    const CAMERA: u32 = 32;

    /// A graph with a microphone, speakers and a camera, as a desktop has them.
    fn desktop() -> Graph {
        let mut graph = Graph::default();
        let device = |class: &str, api: &str| NodeSeen {
            media_class: class.to_owned(),
            running: false,
            device_api: Some(api.to_owned()),
            ..NodeSeen::default()
        };
        graph.node_changed(MIC, device("Audio/Source", "alsa"));
        graph.node_changed(SPEAKERS, device("Audio/Sink", "alsa"));
        graph.node_changed(CAMERA, device("Video/Source", "v4l2"));
        graph
    }

    fn recorder(class: &str) -> NodeSeen {
        NodeSeen {
            media_class: class.to_owned(),
            running: true,
            ..NodeSeen::default()
        }
    }

    #[test]
    fn an_application_recording_the_microphone_is_a_microphone_in_use() {
        let mut graph = desktop();
        assert_eq!(graph.reading(OWN), CaptureReading::default());
        graph.node_changed(50, recorder(RECORDING_SOUND));
        assert!(!graph.reading(OWN).microphone, "not linked to anything yet");
        graph.link_changed(60, MIC, 50);
        assert_eq!(
            graph.reading(OWN),
            CaptureReading {
                microphone: true,
                camera: false
            }
        );
        graph.node_running(50, false);
        assert!(
            !graph.reading(OWN).microphone,
            "a paused recorder records nothing"
        );
        graph.node_running(50, true);
        graph.removed(50);
        assert!(!graph.reading(OWN).microphone, "the recorder left");
    }

    #[test]
    fn a_level_meter_and_a_recording_of_the_speakers_are_not_a_microphone_in_use() {
        let mut graph = desktop();
        graph.node_changed(
            50,
            NodeSeen {
                monitor: true,
                ..recorder(RECORDING_SOUND)
            },
        );
        graph.link_changed(60, MIC, 50);
        graph.node_changed(
            51,
            NodeSeen {
                capture_sink: true,
                ..recorder(RECORDING_SOUND)
            },
        );
        graph.link_changed(61, SPEAKERS, 51);
        // The speakers' monitor, recorded without the flag (an older client): fed by a sink, not a source.
        graph.node_changed(52, recorder(RECORDING_SOUND));
        graph.link_changed(62, SPEAKERS, 52);
        assert_eq!(graph.reading(OWN), CaptureReading::default());
    }

    #[test]
    fn our_own_process_is_never_someone_in_a_call() {
        let mut graph = desktop();
        // A PulseAudio client names its process on the node; a native one on its client.
        graph.node_changed(
            50,
            NodeSeen {
                process_id: Some(OWN),
                ..recorder(RECORDING_SOUND)
            },
        );
        graph.link_changed(60, MIC, 50);
        graph.client_changed(70, Some(OWN));
        graph.node_changed(
            51,
            NodeSeen {
                client_id: Some(70),
                ..recorder(RECORDING_SOUND)
            },
        );
        graph.link_changed(61, MIC, 51);
        assert_eq!(graph.reading(OWN), CaptureReading::default());
        graph.client_changed(70, Some(7));
        assert!(graph.reading(OWN).microphone, "the client is another process now");
    }

    #[test]
    fn a_camera_read_by_an_application_is_a_camera_in_use_but_a_shared_screen_is_not() {
        let mut graph = desktop();
        graph.node_changed(50, recorder(READING_VIDEO));
        graph.link_changed(60, CAMERA, 50);
        assert_eq!(
            graph.reading(OWN),
            CaptureReading {
                microphone: false,
                camera: true
            }
        );
        // A screen being shared: GNOME's portal makes it a `Stream/Output/Video`, wlroots' and Hyprland's a
        // `Video/Source` of no device. Neither is a camera.
        for screen_class in ["Stream/Output/Video", "Video/Source"] {
            let mut graph = desktop();
            graph.node_changed(40, recorder(screen_class));
            graph.node_changed(50, recorder(READING_VIDEO));
            graph.link_changed(60, 40, 50);
            assert_eq!(graph.reading(OWN), CaptureReading::default(), "{screen_class}");
        }
    }

    #[test]
    fn a_virtual_microphone_counts_as_a_microphone() {
        // A noise filter's source, or the virtual microphone of the tests: no device behind it, still a
        // microphone the user speaks into.
        let mut graph = Graph::default();
        graph.node_changed(
            MIC,
            NodeSeen {
                media_class: "Audio/Source/Virtual".to_owned(),
                ..NodeSeen::default()
            },
        );
        graph.node_changed(50, recorder(RECORDING_SOUND));
        graph.link_changed(60, MIC, 50);
        assert!(graph.reading(OWN).microphone);
    }

    #[test]
    fn a_removed_link_or_device_ends_the_use() {
        let mut graph = desktop();
        graph.node_changed(50, recorder(RECORDING_SOUND));
        graph.link_changed(60, MIC, 50);
        graph.removed(60);
        assert!(!graph.reading(OWN).microphone);
        graph.link_changed(61, MIC, 50);
        graph.removed(MIC);
        assert!(!graph.reading(OWN).microphone, "the microphone was unplugged");
    }
}
