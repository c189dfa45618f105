-- Networks where the user paired a phone: on these (by default) the relay listens on the LAN; elsewhere only
-- on this computer. A network is known by a SHA-256 of its gateway's hardware address and the subnet
-- (caret_relay::network); the label ("192.168.1.0/24 via 192.168.1.1") is for Settings.
CREATE TABLE known_networks (
    id        TEXT    PRIMARY KEY,
    label     TEXT    NOT NULL,
    paired_at INTEGER NOT NULL  -- when a phone was first paired there (Unix ms)
);
