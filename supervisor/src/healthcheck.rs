//! `agent-supervisor healthcheck`: exits 0 when `GET /health` answers 200, for Docker's HEALTHCHECK.
//!
//! A plain HTTP/1.0 exchange over a socket: the probe runs every few seconds, so it should start
//! in a millisecond and pull in nothing.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{Context, bail};

pub(crate) fn check(listen: SocketAddr, timeout: Duration) -> anyhow::Result<()> {
    // A wildcard listen address is reached on loopback.
    let target = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => SocketAddr::new(Ipv4Addr::LOCALHOST.into(), listen.port()),
        IpAddr::V6(ip) if ip.is_unspecified() => SocketAddr::new(Ipv6Addr::LOCALHOST.into(), listen.port()),
        _ => listen,
    };
    let mut stream =
        TcpStream::connect_timeout(&target, timeout).with_context(|| format!("connect to {target}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(stream, "GET /health HTTP/1.0\r\nHost: {target}\r\n\r\n").context("send request")?;
    let mut response = Vec::new();
    stream
        .take(64 * 1024)
        .read_to_end(&mut response)
        .context("read response")?;
    let head = String::from_utf8_lossy(&response);
    let status_line = head.lines().next().unwrap_or_default();
    match status_line.split_whitespace().nth(1) {
        Some("200") => Ok(()),
        Some(code) => bail!("GET /health answered {code}"),
        None => bail!("GET /health gave no HTTP answer"),
    }
}
