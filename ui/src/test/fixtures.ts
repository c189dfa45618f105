// Sample values of the app's types, shared by the view tests.
import type { KnownNetwork } from "../bindings/KnownNetwork";
import type { LogEntry } from "../bindings/LogEntry";
import type { OAuthStart } from "../bindings/OAuthStart";
import type { PickerChoices } from "../bindings/PickerChoices";
import type { Policy } from "../bindings/Policy";
import type { PolicyPreview } from "../bindings/PolicyPreview";
import type { PreferencesView } from "../bindings/PreferencesView";
import type { PreviewRow } from "../bindings/PreviewRow";
import type { ReachView } from "../bindings/ReachView";
import type { SettingsPreview } from "../bindings/SettingsPreview";
import type { SlackAppSetup } from "../bindings/SlackAppSetup";
import type { Snapshot } from "../bindings/Snapshot";
import type { StateKind } from "../bindings/StateKind";
import type { TemplateCatalog } from "../bindings/TemplateCatalog";
import type { TemplateState } from "../bindings/TemplateState";
import type { WorkspaceSettings } from "../bindings/WorkspaceSettings";
import type { WorkingHours } from "../bindings/WorkingHours";
import type { WorkspaceView } from "../bindings/WorkspaceView";

export const acme: WorkspaceView = {
  id: 1,
  team: "Acme",
  user: "ada",
  connected: true,
  disconnect_reason: null,
  missing_scopes: [],
  scope_problems: [],
  scope_fix: null,
  policy: { sharing: "trusted", blocked: null },
  effective_policy: "trusted",
  security_notices: false,
  token_rotates: false,
  token_expires_at: null,
};

export const globex: WorkspaceView = {
  id: 2,
  team: "Globex",
  user: "hank",
  connected: true,
  disconnect_reason: null,
  missing_scopes: [],
  scope_problems: [],
  scope_fix: null,
  policy: { sharing: "default", blocked: null },
  effective_policy: "default",
  security_notices: false,
  token_rotates: false,
  token_expires_at: null,
};

export const initech: WorkspaceView = {
  id: 3,
  team: "Initech",
  user: "peter",
  connected: false,
  disconnect_reason: "token revoked",
  missing_scopes: [],
  scope_problems: [],
  scope_fix: null,
  policy: { sharing: "default", blocked: null },
  effective_policy: "default",
  security_notices: false,
  token_rotates: false,
  token_expires_at: null,
};

/** A workspace whose token lacks the presence scopes, with the fix as the app words it. */
export const presenceless: WorkspaceView = {
  ...acme,
  id: 4,
  team: "Umbrella",
  user: "alice",
  missing_scopes: ["users:write", "users:read"],
  scope_problems: ["Presence (away/active) is left alone: the token lacks users:write, users:read."],
  scope_fix:
    "add users:write, users:read under OAuth & Permissions → User Token Scopes in your Slack app (or recreate it " +
    "from slack/manifest.json), reinstall the app to the workspace, then connect again (Sign in with Slack, or " +
    "paste the new token)",
};

/** What `slack_app_setup` answers (a shorter manifest, the same fields). */
export const slackAppSetup: SlackAppSetup = {
  manifest_json: '{\n  "display_information": { "name": "Caret Desktop" }\n}',
  manifest_yaml: "display_information:\n  name: Caret Desktop\n",
  redirect_url: "http://localhost:47824/oauth/callback",
  user_scopes: ["users.profile:write", "users.profile:read", "users:write", "users:read", "chat:write"],
  client_id: null,
};

/** What `begin_sign_in` answers when the browser opened. */
export const oauthStart: OAuthStart = {
  flow_id: 1,
  authorize_url:
    "https://slack.com/oauth/v2/authorize?client_id=1234567890.1234567890&user_scope=users.profile%3Awrite" +
    "&redirect_uri=http%3A%2F%2Flocalhost%3A47824%2Foauth%2Fcallback&state=s7&code_challenge=c9" +
    "&code_challenge_method=S256",
  browser_problem: null,
  expires_in_secs: 600,
};

export const settings: WorkspaceSettings = {
  policy: { sharing: "trusted", blocked: null },
  phone: { share: false, number: null },
  templates: {},
  presence: {},
  dnd: {},
  lease: 30,
  time_format: "h24",
  always_override: false,
};

const look = (
  state: StateKind,
  label: string,
  text: string,
  emoji: string,
  detailed: string | null = null,
): TemplateState => ({
  state,
  label,
  builtin: { text, emoji, detailed_text: detailed },
  // As the app has it: driving and sleeping pause notifications.
  builtin_dnd: state === "in_vehicle" || state === "sleeping" ? "snooze" : "off",
});

/** A template catalog shaped like the Rust answer (fewer states, sample looks). */
export const catalog: TemplateCatalog = {
  states: [
    look("busy", "Busy", "Busy", ":no_entry:"),
    look("in_call", "In a call", "In a call", ":telephone_receiver:"),
    look("in_vehicle", "In a vehicle", "Driving", ":car:"),
    look("event", "At an event", "In a meeting", ":calendar:", "{title} (until {end})"),
    look("walking", "Walking", "Walking", ":walking:"),
    look("sleeping", "Sleeping", "Sleeping", ":sleeping:"),
  ],
  detail_placeholders: ["{title}", "{start}", "{end}"],
};

/** The catalog's entry for `state` (the test fails if there is none). */
export function catalogEntry(state: StateKind): TemplateState {
  const found = catalog.states.find((entry) => entry.state === state);
  if (found === undefined) throw new Error(`no ${state} in the catalog fixture`);
  return found;
}

const LEASE_WORDS = "renewed while your phone says so; gone 30 min after it stops";

function rows(policy: Policy): PreviewRow[] {
  const shown = (text: string, emoji: string) =>
    policy === "blocked" ? null : { text, emoji, expires: LEASE_WORDS };
  const busy = shown("Busy", ":no_entry:");
  const named = (text: string, emoji: string) => (policy === "default" ? busy : shown(text, emoji));
  // The built-in rules: driving and sleeping pause notifications under Trusted and VIP; under Default every
  // state takes Busy's (off), and Blocked never does.
  const snooze = policy === "trusted" || policy === "vip";
  return [
    { state: "available", label: "Available", status: null, presence: "auto", snooze: false },
    { state: "busy", label: "Busy", status: busy, presence: "auto", snooze: false },
    {
      state: "in_call",
      label: "In a call",
      status: named("In a call", ":telephone_receiver:"),
      presence: "auto",
      snooze: false,
    },
    { state: "in_vehicle", label: "In a vehicle", status: named("Driving", ":car:"), presence: "auto", snooze },
    {
      state: "event",
      label: "At an event",
      status:
        policy === "vip"
          ? { text: "Quarterly planning (until 14:45)", emoji: ":calendar:", expires: "ends at 14:45" }
          : named("In a meeting", ":calendar:"),
      presence: "auto",
      snooze: false,
    },
    {
      state: "sleeping",
      label: "Sleeping",
      status: named("Sleeping", ":sleeping:"),
      presence: policy === "blocked" ? "auto" : "away",
      snooze,
    },
  ];
}

/** A preview shaped like the Rust answer (fewer states, the same columns). */
export function previewOf(overrides: Partial<SettingsPreview> = {}): SettingsPreview {
  const policies: PolicyPreview[] = (["default", "trusted", "vip", "blocked"] as const).map((policy) => ({
    policy,
    rows: rows(policy),
  }));
  return {
    policies,
    problem: null,
    example_event: "“Quarterly planning”, 45 minutes from now",
    now: null,
    ...overrides,
  };
}

/** The working week the app starts with: not followed; Monday to Friday, 09:00 to 17:00. */
export const officeWeek: WorkingHours = {
  on: false,
  days: [
    { start: 540, end: 1020 },
    { start: 540, end: 1020 },
    { start: 540, end: 1020 },
    { start: 540, end: 1020 },
    { start: 540, end: 1020 },
    null,
    null,
  ],
  off_status: false,
};

export const preferences: PreferencesView = {
  preferences: {
    shortcut: "Ctrl+Alt+S",
    autostart: false,
    phone_reach: "known_networks",
    clock: "h24",
    sources: { microphone: false, screen_lock: false, screen_lock_status: false, working_hours: officeWeek },
  },
  shortcut: { state: "registered", shortcut: "Ctrl+Alt+S" },
  picker_command: "caret-desktop picker",
  autostart_enabled: false,
};

/** Where phones can reach the computer: the default choice, at home, where a phone was paired. */
export const reach: ReachView = {
  choice: "known_networks",
  forced_local: false,
  open_to_lan: true,
  network: "192.168.1.0/24 via 192.168.1.1",
  network_known: true,
  explanation: "Phones on this network (192.168.1.0/24 via 192.168.1.1) can reach this computer: you paired a phone here.",
  known_networks: [
    { id: "3f9a1c0e7b2d", label: "192.168.1.0/24 via 192.168.1.1", paired_at_ms: Date.parse("2025-02-01T09:30:00Z") },
  ],
};

/** A second known network (the office), for lists of several. */
export const office: KnownNetwork = {
  id: "8d41e6a2c590",
  label: "10.20.0.0/16 via 10.20.0.1",
  paired_at_ms: Date.parse("2025-02-20T14:00:00Z"),
};

export function logEntry(id: number, overrides: Partial<LogEntry> = {}): LogEntry {
  return {
    id,
    at_ms: Date.parse("2025-03-01T10:00:00Z") + id * 1000,
    kind: "call",
    source: "phone",
    workspace_id: 1,
    workspace: "Acme",
    state: "in_call",
    policy: "trusted",
    method: "users.profile.set",
    sent: '{"status_text":"In a call","status_emoji":":telephone_receiver:"}',
    outcome: "ok",
    latency_ms: 120,
    retries: 0,
    error: null,
    problem: false,
    ...overrides,
  };
}

export const choices: PickerChoices = {
  states: [
    { state: "available", label: "Available", emoji: "", slack_texts: [] },
    { state: "busy", label: "Busy", emoji: ":no_entry:", slack_texts: ["Busy"] },
    { state: "in_call", label: "In a call", emoji: ":telephone_receiver:", slack_texts: ["In a call"] },
    { state: "in_vehicle", label: "In a vehicle", emoji: ":car:", slack_texts: ["Driving"] },
    { state: "silent", label: "Silent", emoji: ":no_bell:", slack_texts: ["Phone on silent"] },
    { state: "walking", label: "Walking", emoji: ":walking:", slack_texts: ["Walking", "Promenade à pied"] },
    { state: "sleeping", label: "Sleeping", emoji: ":sleeping:", slack_texts: ["Sleeping"] },
    { state: "offline", label: "Phone offline", emoji: "", slack_texts: [] },
  ],
  durations: [
    { digit: 1, label: "For 30 minutes", duration: { kind: "minutes", minutes: 30 } },
    { digit: 2, label: "For 1 hour", duration: { kind: "minutes", minutes: 60 } },
    { digit: 3, label: "Until the end of the day", duration: { kind: "end_of_day" } },
    { digit: 4, label: "Until I clear it", duration: { kind: "until_cleared" } },
  ],
  default_digit: 2,
};

export const snapshot: Snapshot = {
  phone: { link: "connected", state: { kind: "in_call" } },
  manual: null,
  paused: false,
  workspaces: [
    {
      id: 1,
      team: "Acme",
      connected: true,
      needs_user: false,
      policy: { sharing: "trusted", blocked: null },
      effective_policy: "trusted",
      shows: { text: "In a call", emoji: ":telephone_receiver:" },
    },
  ],
  desktop: { microphone_in_use: false, camera_in_use: false, calendar_event: null, screen_locked: false, away_status: false, off_hours: null },
  input: { state: { kind: "in_call" }, origin: { type: "phone" } },
};
