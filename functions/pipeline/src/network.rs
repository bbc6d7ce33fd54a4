//! The Bitcoin networks btcd joins and their facts: flag, ports, the first release that runs each.

use serde::{Deserialize, Serialize};
use strum::VariantArray;

use crate::config::names;
use crate::error::{Error, Result};
use crate::release;

/// The Bitcoin network btcd joins: one setting (stack parameter `Network`) that decides the flag,
/// the p2p port, the RPC port the health check dials, and the btcd releases that can run it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Network {
    Mainnet,
    Testnet3,
    Testnet4,
    Signet,
    /// A private chain: no DNS seeds, blocks mined on request; peers come from `--addpeer`/`--connect`.
    Regtest,
}

impl Network {
    pub const ALL: &'static [Network] = Network::VARIANTS;

    pub fn parse(raw: &str) -> Result<Self> {
        raw.parse().map_err(|_| Error::config(format!("SIGSHIP_NETWORK={raw:?}: expected one of {}", names::<Self>())))
    }

    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The network a revision's btcd command joins: its flag, mainnet without one.
    pub fn of_command(command: &[String]) -> Network {
        Network::ALL
            .iter()
            .copied()
            .find(|n| n.flag().is_some_and(|flag| command.iter().any(|c| c == flag)))
            .unwrap_or(Network::Mainnet)
    }

    /// btcd's flag for this network.
    pub fn flag(self) -> Option<&'static str> {
        match self {
            Network::Mainnet => None,
            Network::Testnet3 => Some("--testnet"),
            Network::Testnet4 => Some("--testnet4"),
            Network::Signet => Some("--signet"),
            Network::Regtest => Some("--regtest"),
        }
    }

    pub fn p2p_port(self) -> u16 {
        match self {
            Network::Mainnet => 8333,
            Network::Testnet3 => 18333,
            Network::Testnet4 => 48333,
            Network::Signet => 38333,
            Network::Regtest => 18444,
        }
    }

    /// btcd's default RPC port on this network (its `params.go`). The health check names it in
    /// `--rpcserver` instead of passing btcctl a network flag: that flag only picks this default
    /// port, and btcctl releases lack the newer ones (an unknown flag fails every check).
    pub fn rpc_port(self) -> u16 {
        match self {
            Network::Mainnet => 8334,
            Network::Testnet3 => 18334,
            Network::Testnet4 => 48334,
            Network::Signet => 38332,
            Network::Regtest => 18334,
        }
    }

    /// The first btcd release whose daemon knows this network's flag.
    pub fn first_release(self) -> Option<semver::Version> {
        match self {
            Network::Mainnet | Network::Testnet3 | Network::Regtest => None,
            Network::Signet => Some(semver::Version::new(0, 22, 0)),
            Network::Testnet4 => Some(semver::Version::new(0, 25, 0)),
        }
    }

    /// Refuses a release that cannot run this network, before a task would crash-loop on an
    /// unknown flag. A release candidate of the first release counts as that release.
    pub fn check_release(self, tag: &str) -> Result<()> {
        let Some(first) = self.first_release() else { return Ok(()) };
        let refuse = |reason: String| Err(Error::NetworkUnsupported { network: self.name(), tag: tag.into(), reason });
        match release::version(tag) {
            Some(v) if (v.major, v.minor, v.patch) >= (first.major, first.minor, first.patch) => Ok(()),
            Some(_) => refuse(format!("btcd supports it from v{first}")),
            None => refuse(format!("cannot tell the btcd release of {tag:?} (needs v{first} or later)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_release_older_than_the_network_is_refused_by_name() {
        for (network, tag, ok) in [
            // v0.25.0 is testnet4's first release (`--testnet4` in its config.go; run and seen).
            (Network::Testnet4, "v0.25.0", true),
            (Network::Testnet4, "v0.25.0-rc1", true),
            (Network::Testnet4, "v0.24.3-rc1", false),
            (Network::Testnet4, "v0.24.2", false),
            (Network::Regtest, "v0.20.1", true),
            (Network::Testnet4, "v1.0.0", true),
            (Network::Signet, "v0.22.0", true),
            (Network::Signet, "v0.21.5", false),
            (Network::Mainnet, "v0.20.1", true),
            (Network::Testnet3, "anything", true),
            (Network::Testnet4, "release-2026", false),
            (Network::Testnet4, "v0.25", false),
        ] {
            let checked = network.check_release(tag);
            assert_eq!(checked.is_ok(), ok, "{network:?} {tag}: {checked:?}");
            if let Err(err) = checked {
                assert_eq!(err.name(), "NetworkUnsupported");
                assert!(err.to_string().contains(network.name()) && err.to_string().contains(tag), "{err}");
            }
        }
    }

    #[test]
    fn the_network_is_read_from_the_command() {
        let command = |flags: &[&str]| flags.iter().map(|f| f.to_string()).collect::<Vec<_>>();
        assert_eq!(Network::of_command(&command(&["--datadir=/data/btcd", "--signet"])), Network::Signet);
        assert_eq!(Network::of_command(&command(&["--testnet4"])), Network::Testnet4);
        assert_eq!(Network::of_command(&command(&["--testnet"])), Network::Testnet3);
        assert_eq!(Network::of_command(&command(&["--regtest", "--addpeer=10.0.0.9:18444"])), Network::Regtest);
        assert_eq!(Network::of_command(&command(&["--notls"])), Network::Mainnet);
    }
}
