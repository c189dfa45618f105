//! The tray icon, drawn in code: one picture per state group, with a badge when syncing is paused or a
//! workspace is disconnected. Drawn rather than shipped as files so that every combination exists and stays
//! consistent; the shell turns the pixels into the platform's icon.
//!
//! Legible on dark and light panels alike: each shape has a dark outline around a saturated fill and a white
//! glyph. Groups differ by glyph as well as by colour, so they can be told apart without colour vision.

use caret_core::{CaretState, StateKind};

use crate::runtime::core::Snapshot;

/// Side of the square icon in pixels (panels scale it down; 64 keeps it sharp on HiDPI panels).
pub const ICON_SIZE: u32 = 64;

/// States that look alike in the tray.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StateGroup {
    /// Reachable: nothing shown in Slack.
    Available,
    /// Busy, in a call, in a meeting.
    Busy,
    /// Driving, walking, running, cycling.
    OnTheMove,
    /// Silent, sleeping.
    Resting,
    /// No phone, phone offline, or Offline.
    Unknown,
}

impl StateGroup {
    pub const ALL: [StateGroup; 5] = [
        StateGroup::Available,
        StateGroup::Busy,
        StateGroup::OnTheMove,
        StateGroup::Resting,
        StateGroup::Unknown,
    ];

    pub fn of(state: Option<&CaretState>) -> StateGroup {
        match state.map(CaretState::kind) {
            Some(StateKind::Available) => StateGroup::Available,
            Some(StateKind::Busy | StateKind::InCall | StateKind::Event) => StateGroup::Busy,
            Some(StateKind::InVehicle | StateKind::Walking | StateKind::Running | StateKind::Biking) => {
                StateGroup::OnTheMove
            }
            Some(StateKind::Silent | StateKind::Sleeping) => StateGroup::Resting,
            Some(StateKind::Offline) | None => StateGroup::Unknown,
        }
    }

    fn fill(self) -> Rgb {
        match self {
            StateGroup::Available => Rgb(0x2e, 0x9e, 0x4f),
            StateGroup::Busy => Rgb(0xd6, 0x45, 0x3d),
            StateGroup::OnTheMove => Rgb(0x2f, 0x7f, 0xd8),
            StateGroup::Resting => Rgb(0x7b, 0x5c, 0xc4),
            StateGroup::Unknown => Rgb(0x8a, 0x8f, 0x98),
        }
    }
}

/// The badge drawn over the state: a disconnected workspace matters more than a pause, so it wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Badge {
    None,
    Paused,
    Disconnected,
}

/// What the tray icon shows for a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IconLook {
    pub group: StateGroup,
    pub badge: Badge,
}

impl IconLook {
    pub fn of(snapshot: &Snapshot, now: chrono::DateTime<chrono::Utc>) -> IconLook {
        let badge = if snapshot.any_disconnected() {
            Badge::Disconnected
        } else if snapshot.paused {
            Badge::Paused
        } else {
            Badge::None
        };
        IconLook {
            group: StateGroup::of(snapshot.effective_state(now).as_ref()),
            badge,
        }
    }

    /// The tooltip where it is one text (Windows, macOS): the app's name, the state line, and the reason for a
    /// badge.
    pub fn tooltip(snapshot: &Snapshot) -> String {
        format!("Caret Desktop — {}", Self::tooltip_body(snapshot))
    }

    /// The tooltip without the app's name, for a StatusNotifierItem, whose panel shows the item's title above
    /// it: the state line, and the reason for a badge.
    pub fn tooltip_body(snapshot: &Snapshot) -> String {
        let mut lines = vec![snapshot.state_line()];
        if snapshot.paused {
            lines.push("Syncing to Slack is paused".to_owned());
        }
        for workspace in snapshot
            .workspaces
            .iter()
            .filter(|workspace| !workspace.connected)
        {
            lines.push(format!("{} is disconnected", workspace.team));
        }
        lines.join("\n")
    }

    /// The icon's pixels: RGBA, [`ICON_SIZE`] square, not premultiplied.
    pub fn render(self) -> Vec<u8> {
        let mut canvas = Canvas::new(ICON_SIZE);
        let centre = (31.5, 31.5);
        canvas.paint(OUTLINE, |x, y| disc(x, y, centre, 29.0));
        canvas.paint(self.group.fill(), |x, y| disc(x, y, centre, 25.5));
        canvas.paint(WHITE, |x, y| glyph(self.group, x, y));
        match self.badge {
            Badge::None => {}
            Badge::Paused => {
                canvas.paint(OUTLINE, |x, y| disc(x, y, BADGE_CENTRE, 14.0));
                canvas.paint(Rgb(0x5a, 0x5f, 0x68), |x, y| disc(x, y, BADGE_CENTRE, 11.5));
                canvas.paint(WHITE, |x, y| {
                    let (cx, cy) = BADGE_CENTRE;
                    rect(x, y, (cx - 5.0, cy - 6.0), (cx - 1.5, cy + 6.0)).min(rect(
                        x,
                        y,
                        (cx + 1.5, cy - 6.0),
                        (cx + 5.0, cy + 6.0),
                    ))
                });
            }
            Badge::Disconnected => {
                canvas.paint(OUTLINE, |x, y| disc(x, y, BADGE_CENTRE, 14.0));
                canvas.paint(Rgb(0xf0, 0x9a, 0x1a), |x, y| disc(x, y, BADGE_CENTRE, 11.5));
                canvas.paint(OUTLINE, |x, y| {
                    let (cx, cy) = BADGE_CENTRE;
                    rect(x, y, (cx - 1.8, cy - 7.0), (cx + 1.8, cy + 2.0)).min(disc(
                        x,
                        y,
                        (cx, cy + 5.5),
                        2.0,
                    ))
                });
            }
        }
        canvas.pixels
    }
}

const OUTLINE: Rgb = Rgb(0x1b, 0x1d, 0x21);
const WHITE: Rgb = Rgb(0xff, 0xff, 0xff);
const BADGE_CENTRE: (f32, f32) = (49.0, 49.0);

#[derive(Debug, Clone, Copy)]
struct Rgb(u8, u8, u8);

/// Signed distances (negative inside) of the shapes the icons are made of.
fn disc(x: f32, y: f32, centre: (f32, f32), radius: f32) -> f32 {
    ((x - centre.0).powi(2) + (y - centre.1).powi(2)).sqrt() - radius
}

fn rect(x: f32, y: f32, min: (f32, f32), max: (f32, f32)) -> f32 {
    let dx = (min.0 - x).max(x - max.0);
    let dy = (min.1 - y).max(y - max.1);
    if dx > 0.0 && dy > 0.0 {
        (dx * dx + dy * dy).sqrt()
    } else {
        dx.max(dy)
    }
}

fn segment(x: f32, y: f32, from: (f32, f32), to: (f32, f32), half_width: f32) -> f32 {
    let (px, py) = (x - from.0, y - from.1);
    let (dx, dy) = (to.0 - from.0, to.1 - from.1);
    let t = ((px * dx + py * dy) / (dx * dx + dy * dy)).clamp(0.0, 1.0);
    ((px - t * dx).powi(2) + (py - t * dy).powi(2)).sqrt() - half_width
}

/// The white mark inside the disc: a tick, a no-entry bar, an arrow, a crescent, three dots.
fn glyph(group: StateGroup, x: f32, y: f32) -> f32 {
    match group {
        StateGroup::Available => {
            segment(x, y, (19.0, 33.0), (28.0, 42.0), 3.2).min(segment(x, y, (28.0, 42.0), (45.0, 23.0), 3.2))
        }
        StateGroup::Busy => rect(x, y, (17.0, 28.0), (46.0, 35.0)),
        StateGroup::OnTheMove => segment(x, y, (18.0, 31.5), (44.0, 31.5), 3.2)
            .min(segment(x, y, (44.0, 31.5), (34.0, 21.5), 3.2))
            .min(segment(x, y, (44.0, 31.5), (34.0, 41.5), 3.2)),
        StateGroup::Resting => disc(x, y, (30.0, 31.5), 14.0).max(-disc(x, y, (37.0, 26.0), 12.0)),
        StateGroup::Unknown => disc(x, y, (20.5, 31.5), 3.6)
            .min(disc(x, y, (31.5, 31.5), 3.6))
            .min(disc(x, y, (42.5, 31.5), 3.6)),
    }
}

struct Canvas {
    size: u32,
    pixels: Vec<u8>,
}

impl Canvas {
    fn new(size: u32) -> Canvas {
        Canvas {
            size,
            pixels: vec![0; (size * size * 4) as usize],
        }
    }

    /// Paints `colour` where `distance` is negative, with a one-pixel soft edge, over what is there.
    fn paint(&mut self, colour: Rgb, distance: impl Fn(f32, f32) -> f32) {
        for y in 0..self.size {
            for x in 0..self.size {
                let coverage = (0.5 - distance(x as f32, y as f32)).clamp(0.0, 1.0);
                if coverage <= 0.0 {
                    continue;
                }
                let at = ((y * self.size + x) * 4) as usize;
                let below_alpha = f32::from(self.pixels[at + 3]) / 255.0;
                let alpha = coverage + below_alpha * (1.0 - coverage);
                for (channel, value) in [colour.0, colour.1, colour.2].into_iter().enumerate() {
                    let below = f32::from(self.pixels[at + channel]);
                    let mixed =
                        (f32::from(value) * coverage + below * below_alpha * (1.0 - coverage)) / alpha;
                    self.pixels[at + channel] = mixed.round().clamp(0.0, 255.0) as u8;
                }
                self.pixels[at + 3] = (alpha * 255.0).round() as u8;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::core::{PhoneLink, WorkspaceLine};

    fn luminance(pixel: &[u8]) -> f32 {
        (0.2126 * f32::from(pixel[0]) + 0.7152 * f32::from(pixel[1]) + 0.0722 * f32::from(pixel[2])) / 255.0
    }

    fn look(group: StateGroup, badge: Badge) -> IconLook {
        IconLook { group, badge }
    }

    #[test]
    fn every_group_and_badge_draws_a_different_icon() {
        let mut seen = std::collections::HashSet::new();
        for group in StateGroup::ALL {
            for badge in [Badge::None, Badge::Paused, Badge::Disconnected] {
                let pixels = look(group, badge).render();
                assert_eq!(pixels.len(), (ICON_SIZE * ICON_SIZE * 4) as usize);
                assert!(seen.insert(pixels), "{group:?} {badge:?} looks like another icon");
            }
        }
    }

    #[test]
    fn each_icon_has_dark_and_light_parts_so_it_shows_on_any_panel() {
        for group in StateGroup::ALL {
            let pixels = look(group, Badge::None).render();
            let opaque: Vec<f32> = pixels
                .chunks(4)
                .filter(|pixel| pixel[3] == 255)
                .map(luminance)
                .collect();
            let dark = opaque.iter().filter(|l| **l < 0.2).count();
            let light = opaque.iter().filter(|l| **l > 0.9).count();
            assert!(
                dark > 150,
                "{group:?}: an outline that shows on a light panel ({dark} px)"
            );
            assert!(
                light > 60,
                "{group:?}: a glyph that shows on a dark panel ({light} px)"
            );
            assert_eq!(pixels[3], 0, "the corners stay transparent");
        }
    }

    #[test]
    fn states_fall_into_the_groups_people_expect() {
        assert_eq!(StateGroup::of(Some(&CaretState::InCall)), StateGroup::Busy);
        assert_eq!(
            StateGroup::of(Some(&CaretState::InVehicle)),
            StateGroup::OnTheMove
        );
        assert_eq!(StateGroup::of(Some(&CaretState::Sleeping)), StateGroup::Resting);
        assert_eq!(
            StateGroup::of(Some(&CaretState::Available)),
            StateGroup::Available
        );
        assert_eq!(StateGroup::of(None), StateGroup::Unknown);
        assert_eq!(StateGroup::of(Some(&CaretState::Offline)), StateGroup::Unknown);
    }

    #[test]
    fn a_disconnected_workspace_outranks_a_pause_and_both_are_in_the_tooltip() {
        let now = chrono::Utc::now();
        let mut snapshot = Snapshot {
            phone: PhoneLink::Connected {
                state: CaretState::Walking,
            },
            paused: true,
            ..Snapshot::default()
        };
        assert_eq!(
            IconLook::of(&snapshot, now),
            look(StateGroup::OnTheMove, Badge::Paused)
        );
        snapshot.workspaces.push(WorkspaceLine {
            id: 1,
            team: "Acme".into(),
            connected: false,
            needs_user: true,
            policy: caret_core::PolicySetting::default(),
            effective_policy: caret_core::Policy::Default,
            shows: None,
        });
        assert_eq!(IconLook::of(&snapshot, now).badge, Badge::Disconnected);
        snapshot.workspaces[0].needs_user = false;
        assert_eq!(
            IconLook::of(&snapshot, now).badge,
            Badge::Paused,
            "a workspace the user disconnected asks for nothing"
        );
        snapshot.workspaces[0].needs_user = true;
        let tooltip = IconLook::tooltip(&snapshot);
        assert!(tooltip.starts_with("Caret Desktop — "), "{tooltip}");
        assert!(
            !IconLook::tooltip_body(&snapshot).contains("Caret Desktop"),
            "a panel shows the item's title above the body"
        );
        assert!(
            tooltip.contains("paused") && tooltip.contains("Acme is disconnected"),
            "{tooltip}"
        );
    }
}

#[cfg(test)]
mod dump {
    #[test]
    #[ignore = "writes the icons as raw RGBA to CARET_ICON_DUMP for a look"]
    fn dump_icons() {
        use super::*;
        let dir = std::env::var("CARET_ICON_DUMP").unwrap();
        for (i, group) in StateGroup::ALL.into_iter().enumerate() {
            for (j, badge) in [Badge::None, Badge::Paused, Badge::Disconnected]
                .into_iter()
                .enumerate()
            {
                std::fs::write(format!("{dir}/{i}{j}.rgba"), IconLook { group, badge }.render()).unwrap();
            }
        }
    }
}
