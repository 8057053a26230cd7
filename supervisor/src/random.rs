//! The supervisor's one source of randomness: the kernel's `getrandom`.
//!
//! Session ids, the generated API token and the shipper's backoff jitter all draw from here, so there is
//! one thing to audit (and nothing seeded from the clock or from hash keys).

/// Fills `buf` with random bytes from the kernel.
pub(crate) fn fill(buf: &mut [u8]) {
    let mut filled = 0;
    while filled < buf.len() {
        let rest = &mut buf[filled..];
        // SAFETY: the pointer and length describe the writable rest of `buf`.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        match usize::try_from(n) {
            Ok(n) => filled += n,
            // EINTR: a signal arrived before any byte was written; ask again.
            Err(_) if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {}
            // Only ENOSYS (a kernel older than 3.17) or EFAULT; neither can happen on a supported system.
            Err(_) => panic!("getrandom failed: {}", std::io::Error::last_os_error()),
        }
    }
}

pub(crate) fn bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    fill(&mut buf);
    buf
}

pub(crate) fn u64() -> u64 {
    u64::from_ne_bytes(bytes())
}

/// `bytes` random bytes as lowercase hex.
pub(crate) fn hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    fill(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// A version 4 UUID.
pub(crate) fn uuid_v4() -> uuid::Uuid {
    uuid::Builder::from_random_bytes(bytes()).into_uuid()
}

#[cfg(test)]
mod tests {
    #[test]
    fn random_values_differ_and_uuids_are_version_4() {
        assert_ne!(super::hex(16), super::hex(16));
        assert_eq!(super::hex(32).len(), 64);
        assert_eq!(super::uuid_v4().get_version_num(), 4);
    }
}
