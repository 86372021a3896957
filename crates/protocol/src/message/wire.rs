//! Bounds-checked big-endian cursors shared by the record, batch and id codecs.
//!
//! Every read and write goes through `get`/`get_mut`, so malformed input becomes a
//! [`MessageError::Truncated`] instead of a panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::MessageError;

/// Reads big-endian values from a byte slice, refusing to run past its end.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader positioned at `pos` (which may be past the end; the next read then fails).
    pub(crate) fn at(buf: &'a [u8], pos: usize) -> Self {
        Self { buf, pos }
    }

    /// Bytes consumed so far (the current position).
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Whether everything has been read.
    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// The next `n` bytes, borrowed from the input.
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], MessageError> {
        let have = self.buf.len();
        let end = self.pos.checked_add(n).ok_or(MessageError::Truncated {
            need: usize::MAX,
            have,
        })?;
        let out = self
            .buf
            .get(self.pos..end)
            .ok_or(MessageError::Truncated { need: end, have })?;
        self.pos = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], MessageError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(crate) fn i8(&mut self) -> Result<i8, MessageError> {
        Ok(i8::from_be_bytes(self.array()?))
    }

    pub(crate) fn i16(&mut self) -> Result<i16, MessageError> {
        Ok(i16::from_be_bytes(self.array()?))
    }

    pub(crate) fn i32(&mut self) -> Result<i32, MessageError> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, MessageError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub(crate) fn i64(&mut self) -> Result<i64, MessageError> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    /// A host: a 4- or 16-byte address then an int32 port.
    pub(crate) fn host(&mut self, v6: bool) -> Result<SocketAddr, MessageError> {
        let ip = if v6 {
            IpAddr::V6(Ipv6Addr::from(self.array::<16>()?))
        } else {
            IpAddr::V4(Ipv4Addr::from(self.array::<4>()?))
        };
        let port = self.i32()?;
        let port = u16::try_from(port).map_err(|_| MessageError::BadPort(port))?;
        Ok(SocketAddr::new(ip, port))
    }
}

/// Writes big-endian values into a mutable slice, refusing to run past its end.
pub(crate) struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn put(&mut self, src: &[u8]) -> Result<(), MessageError> {
        let have = self.buf.len();
        let end = self
            .pos
            .checked_add(src.len())
            .ok_or(MessageError::BufferTooSmall {
                need: usize::MAX,
                have,
            })?;
        let dst = self
            .buf
            .get_mut(self.pos..end)
            .ok_or(MessageError::BufferTooSmall { need: end, have })?;
        dst.copy_from_slice(src);
        self.pos = end;
        Ok(())
    }

    pub(crate) fn i8(&mut self, v: i8) -> Result<(), MessageError> {
        self.put(&v.to_be_bytes())
    }

    pub(crate) fn i16(&mut self, v: i16) -> Result<(), MessageError> {
        self.put(&v.to_be_bytes())
    }

    pub(crate) fn i32(&mut self, v: i32) -> Result<(), MessageError> {
        self.put(&v.to_be_bytes())
    }

    pub(crate) fn u32(&mut self, v: u32) -> Result<(), MessageError> {
        self.put(&v.to_be_bytes())
    }

    pub(crate) fn i64(&mut self, v: i64) -> Result<(), MessageError> {
        self.put(&v.to_be_bytes())
    }

    /// A host as the record stores it: address bytes then the port as int32.
    pub(crate) fn host(&mut self, addr: SocketAddr) -> Result<(), MessageError> {
        let addr = canonical(addr);
        match addr.ip() {
            IpAddr::V4(ip) => self.put(&ip.octets())?,
            IpAddr::V6(ip) => self.put(&ip.octets())?,
        }
        self.i32(i32::from(addr.port()))
    }
}

/// The address as Java would see it: an IPv4-mapped IPv6 address is an IPv4 address
/// (`InetAddress.getByAddress` returns an `Inet4Address` for it), so it is stored in 4 bytes.
pub(crate) fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

/// Bytes an address takes in a record: 4 + 4 for IPv4, 16 + 4 for IPv6.
pub(crate) fn host_len(addr: SocketAddr) -> usize {
    if canonical(addr).is_ipv4() {
        8
    } else {
        20
    }
}
