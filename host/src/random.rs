//! Random identifiers from the kernel's getrandom(2).

/// `bytes` random bytes as lowercase hex (so `2 * bytes` characters).
pub fn hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    let mut filled = 0;
    while filled < bytes {
        match rustix::rand::getrandom(&mut buf[filled..], rustix::rand::GetRandomFlags::empty()) {
            Ok(n) => filled += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => panic!("getrandom failed: {}", std::io::Error::from(e)),
        }
    }
    hex::encode(buf)
}
