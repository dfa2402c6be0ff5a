//! The kernel side of a bridge network, through rtnetlink (netlink-packet-route): the bridge with
//! its gateway address, and per container a veth pair whose inner end is made directly in the
//! container's network namespace, addressed and routed there. A handful of requests on one socket
//! each way: what docker's libnetwork does in-process, where a CNI plugin binary costs 15-20 ms
//! a run here (see the README's Networks section).

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::AddressFamily;
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteMessage, RouteProtocol, RouteScope, RouteType};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

/// One rtnetlink socket of the network namespace it was opened in.
pub struct Netlink {
    socket: Socket,
    seq: u32,
}

impl Netlink {
    pub fn open() -> io::Result<Netlink> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        Ok(Netlink { socket, seq: 0 })
    }

    /// Sends `message` and waits for the kernel's answer: Ok on its ACK, its error otherwise.
    fn request(&mut self, message: RouteNetlinkMessage, flags: u16) -> io::Result<()> {
        self.seq += 1;
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(message));
        packet.finalize();
        let mut out = vec![0; packet.buffer_len()];
        packet.serialize(&mut out);
        self.socket.send(&out, 0)?;
        loop {
            let mut buf = Vec::with_capacity(8192);
            self.socket.recv(&mut buf, 0)?;
            let answer = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&buf)
                .map_err(|e| io::Error::other(format!("an rtnetlink answer sbx cannot read: {e}")))?;
            if answer.header.sequence_number != self.seq {
                continue;
            }
            return match answer.payload {
                NetlinkPayload::Error(e) if e.code.is_some() => Err(e.to_io()),
                _ => Ok(()),
            };
        }
    }

    /// Makes bridge `name` with `gateway/prefix` on it, up. EEXIST if it is there.
    pub fn add_bridge(&mut self, name: &str, gateway: Ipv4Addr, prefix: u8) -> io::Result<u32> {
        let mut link = LinkMessage::default();
        link.attributes.push(LinkAttribute::IfName(name.to_string()));
        link.attributes.push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Bridge)]));
        self.request(RouteNetlinkMessage::NewLink(link), NLM_F_CREATE | NLM_F_EXCL)?;
        let index = index(name)?;
        self.add_address(index, gateway, prefix)?;
        self.set_up(index, None)?;
        Ok(index)
    }

    /// Makes the veth pair `host` (here, a port of bridge `master`, up) and `inner`, made in the
    /// network namespace `netns`.
    pub fn add_veth(&mut self, host: &str, inner: &str, netns: BorrowedFd, master: u32) -> io::Result<()> {
        let mut peer = LinkMessage::default();
        peer.attributes.push(LinkAttribute::IfName(inner.to_string()));
        peer.attributes.push(LinkAttribute::NetNsFd(netns.as_raw_fd()));
        let mut link = LinkMessage::default();
        link.attributes.push(LinkAttribute::IfName(host.to_string()));
        link.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
        ]));
        self.request(RouteNetlinkMessage::NewLink(link), NLM_F_CREATE | NLM_F_EXCL)?;
        self.set_up(index(host)?, Some(master))
    }

    /// Brings link `index` up (as a port of bridge `master`, when given).
    pub fn set_up(&mut self, index: u32, master: Option<u32>) -> io::Result<()> {
        let mut link = LinkMessage::default();
        link.header.index = index;
        link.header.flags = LinkFlags::Up;
        link.header.change_mask = LinkFlags::Up;
        link.attributes.extend(master.map(LinkAttribute::Controller));
        self.request(RouteNetlinkMessage::SetLink(link), 0)
    }

    pub fn add_address(&mut self, index: u32, ip: Ipv4Addr, prefix: u8) -> io::Result<()> {
        let mut addr = AddressMessage::default();
        addr.header.family = AddressFamily::Inet;
        addr.header.prefix_len = prefix;
        addr.header.index = index;
        addr.attributes.push(AddressAttribute::Local(IpAddr::V4(ip)));
        addr.attributes.push(AddressAttribute::Address(IpAddr::V4(ip)));
        let broadcast = Ipv4Addr::from(u32::from(ip) | (u32::MAX.checked_shr(prefix as u32).unwrap_or(0)));
        addr.attributes.push(AddressAttribute::Broadcast(broadcast));
        self.request(RouteNetlinkMessage::NewAddress(addr), NLM_F_CREATE | NLM_F_EXCL)
    }

    /// The default route through `gateway` (reached on the link that has its subnet).
    pub fn add_default_route(&mut self, gateway: Ipv4Addr) -> io::Result<()> {
        let mut route = RouteMessage::default();
        route.header.address_family = AddressFamily::Inet;
        route.header.table = libc::RT_TABLE_MAIN;
        route.header.protocol = RouteProtocol::Boot;
        route.header.scope = RouteScope::Universe;
        route.header.kind = RouteType::Unicast;
        route.attributes.push(RouteAttribute::Gateway(RouteAddress::Inet(gateway)));
        self.request(RouteNetlinkMessage::NewRoute(route), NLM_F_CREATE | NLM_F_EXCL)
    }

    /// Deletes link `name` (a veth takes its peer with it; a bridge lets its ports go).
    /// Ok if there is none.
    pub fn delete(&mut self, name: &str) -> io::Result<()> {
        let Ok(index) = index(name) else { return Ok(()) };
        let mut link = LinkMessage::default();
        link.header.index = index;
        match self.request(RouteNetlinkMessage::DelLink(link), 0) {
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(()),
            other => other,
        }
    }
}

/// The index of link `name` in sbx's network namespace; NotFound if there is none.
pub fn index(name: &str) -> io::Result<u32> {
    nix::net::if_::if_nametoindex(name).map_err(|e| io::Error::new(io::ErrorKind::NotFound, e))
}

/// Runs `f` in the network namespace `netns` (a thread of its own enters it, so sbx's own stays
/// where it is), with a netlink socket of that namespace.
pub fn within<T: Send>(netns: &impl AsFd, f: impl FnOnce(&mut Netlink) -> io::Result<T> + Send) -> io::Result<T> {
    let fd = netns.as_fd();
    std::thread::scope(|s| {
        s.spawn(|| {
            nix::sched::setns(fd, nix::sched::CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
            f(&mut Netlink::open()?)
        })
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("the thread that set up the container's network panicked")))
    })
}

/// A new network namespace with its loopback up, made by a thread that leaves it at once. For a
/// container that slirp4netns serves: the child joins it, and slirp4netns gets it as this fd.
/// (Opening the child's /proc/PID/ns/net instead needs ptrace access to it, and a child that sbx
/// keeps non-dumpable until its exec has the memory, so the user namespace, of sbx's start, where
/// a rootless sbx has no CAP_SYS_PTRACE.)
pub fn new_netns() -> io::Result<std::os::fd::OwnedFd> {
    std::thread::scope(|s| {
        s.spawn(|| {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
            Netlink::open()?.set_up(index("lo")?, None)?;
            Ok(std::fs::File::open("/proc/thread-self/ns/net")?.into())
        })
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("the thread that made a network namespace panicked")))
    })
}
