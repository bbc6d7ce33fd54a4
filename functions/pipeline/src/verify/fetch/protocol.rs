//! One tag at depth 1 through gix's protocol layer. gix's high-level fetch cannot ask for an
//! object filter yet; its protocol layer can (`Arguments::filter`). The scratch repository is
//! empty, so there is nothing to negotiate: want the tag, ask for `tree:0` where the remote offers
//! filters, and write the pack the remote sends.

use std::io::{BufRead, Read};
use std::sync::atomic::AtomicBool;

use gix::odb::pack::bundle::write::Options as PackWriteOptions;
use gix::protocol::fetch::{negotiate, Arguments, Negotiate, Shallow, Tags};
use gix::protocol::transport::client::blocking_io::Transport;
use gix::protocol::transport::Service;
use gix::remote::Direction;
use gix::ObjectId;

use super::OBJECT_FILTER;

pub struct ReceivedTag {
    /// What `refs/tags/<tag>` points at on the remote.
    pub tag_object: ObjectId,
    pub filtered: bool,
    pub pack_bytes: u64,
}

/// Lists the remote's `refs/tags/<tag>` and fetches what it points at; `None` if the remote has no
/// such tag.
pub fn receive_tag(
    transport: &mut impl Transport,
    authenticate: gix::remote::AuthenticateFn<'static>,
    repo: &gix::Repository,
    remote: &gix::Remote<'_>,
    interrupt: &AtomicBool,
) -> gix::Result<Option<ReceivedTag>> {
    let mut progress = gix::progress::Discard;
    let mut handshake =
        gix::protocol::handshake(&mut *transport, Service::UploadPack, authenticate, Vec::new(), &mut progress)?;
    let refmap_context = gix::protocol::fetch::refmap::init::Context {
        fetch_refspecs: remote.refspecs(Direction::Fetch).to_vec(),
        extra_refspecs: Vec::new(),
    };
    let ref_map = handshake.prepare_lsrefs_or_extract_refmap(user_agent(), true, refmap_context)?.fetch_blocking(
        &mut progress,
        &mut *transport,
        false,
    )?;
    let Some(tag_object) = ref_map.mappings.first().and_then(|m| m.remote.as_id()).map(ToOwned::to_owned) else {
        return Ok(None);
    };

    let mut want = WantOne { id: tag_object, filtered: false };
    let mut pack_bytes = 0;
    let depth_one = Shallow::DepthAtRemote(1.try_into().expect("non-zero"));
    let pack_directory = repo.objects.store_ref().path().join("pack");
    gix::protocol::fetch(
        &mut want,
        |pack, progress, interrupt| {
            let mut counted = CountingReader { inner: pack, bytes: 0 };
            let written = gix::odb::pack::Bundle::write_to_directory(
                &mut counted,
                Some(&pack_directory),
                progress,
                interrupt,
                Some(repo.objects.clone()),
                repo.object_hash(),
                PackWriteOptions::default(),
            );
            pack_bytes = counted.bytes;
            written?;
            Ok(true)
        },
        progress,
        interrupt,
        gix::protocol::fetch::Context {
            handshake: &mut handshake,
            transport: &mut *transport,
            user_agent: user_agent(),
            trace_packetlines: false,
        },
        gix::protocol::fetch::Options {
            shallow_file: repo.shallow_file()?,
            shallow: &depth_one,
            tags: Tags::None,
            reject_shallow_remote: false,
        },
    )?;
    if handshake.server_protocol_version == gix::protocol::transport::Protocol::V2 {
        gix::protocol::indicate_end_of_interaction(&mut *transport, false).ok();
    }
    Ok(Some(ReceivedTag { tag_object, filtered: want.filtered, pack_bytes }))
}

fn user_agent() -> gix::protocol::command::Feature {
    ("agent", Some(gix::protocol::agent(gix::env::agent())))
}

/// Wants one object; the first round is the last because an empty repository has nothing to offer.
struct WantOne {
    id: ObjectId,
    filtered: bool,
}

impl Negotiate for WantOne {
    fn mark_complete_and_common_ref(&mut self) -> gix::Result<negotiate::Action> {
        Ok(negotiate::Action::MustNegotiate { remote_ref_target_known: vec![false] })
    }

    fn add_wants(&mut self, arguments: &mut Arguments, _remote_ref_target_known: &[bool]) -> bool {
        arguments.want(self.id);
        self.filtered = arguments.can_use_filter();
        if self.filtered {
            arguments.filter(OBJECT_FILTER);
        }
        true
    }

    fn one_round(
        &mut self,
        _state: &mut negotiate::one_round::State,
        _arguments: &mut Arguments,
        _previous_response: Option<&gix::protocol::fetch::Response>,
    ) -> gix::Result<(negotiate::Round, bool)> {
        let nothing_to_offer = negotiate::Round {
            haves_sent: 0,
            in_vain: 0,
            haves_to_send: 0,
            previous_response_had_at_least_one_in_common: false,
        };
        Ok((nothing_to_offer, true))
    }
}

/// Counts the pack bytes the remote sent as they are consumed.
struct CountingReader<'a> {
    inner: &'a mut dyn BufRead,
    bytes: u64,
}

impl Read for CountingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.bytes += read as u64;
        Ok(read)
    }
}

impl BufRead for CountingReader<'_> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.bytes += amount as u64;
        self.inner.consume(amount);
    }
}
