//! Message ids: the broker's offset id (store host + commit-log offset) and the client's
//! unique id (`UNIQ_KEY`), both as uppercase hex.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::wire::{canonical, Reader};
use super::MessageError;

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Length of an offset id for an IPv4 store host (16 bytes).
pub const OFFSET_ID_LEN_V4: usize = 32;
/// Length of an offset id for an IPv6 store host (28 bytes).
pub const OFFSET_ID_LEN_V6: usize = 56;

fn push_hex(out: &mut String, bytes: &[u8]) {
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0F)]));
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'F' => Some(c - b'A' + 10),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// Decodes hex (either case) into `out`; `hex` must be exactly twice `out`'s length.
fn decode_hex(hex: &str, out: &mut [u8]) -> Result<(), MessageError> {
    if hex.len() != out.len() * 2 {
        return Err(MessageError::BadMessageId {
            reason: "wrong length",
        });
    }
    for (dst, pair) in out.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
        let (hi, lo) = match pair {
            [hi, lo] => (hex_value(*hi), hex_value(*lo)),
            _ => (None, None),
        };
        match (hi, lo) {
            (Some(hi), Some(lo)) => *dst = (hi << 4) | lo,
            _ => {
                return Err(MessageError::BadMessageId {
                    reason: "not hexadecimal",
                })
            }
        }
    }
    Ok(())
}

/// The offset message id of a record: store host address, port (int32) and commit-log offset
/// (int64), as uppercase hex: 32 chars for an IPv4 host, 56 for IPv6.
pub fn offset_msg_id(store_host: SocketAddr, phys_offset: i64) -> String {
    let host = canonical(store_host);
    let mut out = String::with_capacity(OFFSET_ID_LEN_V6);
    match host.ip() {
        IpAddr::V4(ip) => push_hex(&mut out, &ip.octets()),
        IpAddr::V6(ip) => push_hex(&mut out, &ip.octets()),
    }
    push_hex(&mut out, &i32::from(host.port()).to_be_bytes());
    push_hex(&mut out, &phys_offset.to_be_bytes());
    out
}

/// Splits an offset message id into store host and commit-log offset. Accepts either hex case.
///
/// # Errors
/// [`MessageError::BadMessageId`] unless the id is 32 or 56 hex chars; [`MessageError::BadPort`]
/// if the port does not fit 16 bits.
pub fn decode_offset_msg_id(id: &str) -> Result<(SocketAddr, i64), MessageError> {
    let mut bytes = [0u8; OFFSET_ID_LEN_V6 / 2];
    let (n, v6) = match id.len() {
        OFFSET_ID_LEN_V4 => (OFFSET_ID_LEN_V4 / 2, false),
        OFFSET_ID_LEN_V6 => (OFFSET_ID_LEN_V6 / 2, true),
        _ => {
            return Err(MessageError::BadMessageId {
                reason: "offset id must be 32 or 56 hex chars",
            })
        }
    };
    let bytes = bytes.get_mut(..n).ok_or(MessageError::BadMessageId {
        reason: "wrong length",
    })?;
    decode_hex(id, bytes)?;
    let mut r = Reader::at(bytes, 0);
    let host = r.host(v6)?;
    let offset = r.i64()?;
    Ok((host, offset))
}

/// Generates client unique ids (`UNIQ_KEY`): client IP, low 16 bits of the process id, a random
/// per-process int, milliseconds since the start of the current month (int32) and a 16-bit
/// counter, as uppercase hex (32 chars for IPv4, 56 for IPv6).
///
/// Java measures the month in the local time zone; this uses UTC. Nobody decodes the month
/// offset except to guess a time range for queries, so only uniqueness matters.
#[derive(Debug)]
pub struct UniqIdGenerator {
    /// Hex of ip + pid + random, fixed for the generator's life.
    prefix: String,
    month_start_ms: AtomicI64,
    next_month_start_ms: AtomicI64,
    counter: AtomicU32,
}

impl UniqIdGenerator {
    /// A generator for this process, with a random per-process int drawn from the OS.
    pub fn new(ip: IpAddr) -> Self {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u128(now_nanos());
        // Any 32 bits of the random hash will do.
        let random = hasher.finish() as i32;
        // Java writes `(short) pid`: the low 16 bits.
        let pid = (std::process::id() & 0xFFFF) as u16;
        Self::with_parts(ip, pid, random)
    }

    /// A generator with explicit fixed parts (for tests and reproducible ids).
    pub fn with_parts(ip: IpAddr, pid: u16, random: i32) -> Self {
        let mut prefix = String::with_capacity(OFFSET_ID_LEN_V6);
        match ip.to_canonical() {
            IpAddr::V4(ip) => push_hex(&mut prefix, &ip.octets()),
            IpAddr::V6(ip) => push_hex(&mut prefix, &ip.octets()),
        }
        push_hex(&mut prefix, &pid.to_be_bytes());
        push_hex(&mut prefix, &random.to_be_bytes());
        let (start, next) = month_bounds_ms(now_ms());
        Self {
            prefix,
            month_start_ms: AtomicI64::new(start),
            next_month_start_ms: AtomicI64::new(next),
            counter: AtomicU32::new(0),
        }
    }

    /// A new id for a message sent now.
    pub fn next_id(&self) -> String {
        self.next_id_at(now_ms())
    }

    /// A new id for a message sent at `now_ms` (ms since the Unix epoch).
    pub fn next_id_at(&self, now_ms: i64) -> String {
        let mut start = self.month_start_ms.load(Ordering::Relaxed);
        if now_ms >= self.next_month_start_ms.load(Ordering::Relaxed) || now_ms < start {
            // Racing threads compute the same bounds, so plain stores are enough.
            let (s, n) = month_bounds_ms(now_ms);
            self.month_start_ms.store(s, Ordering::Relaxed);
            self.next_month_start_ms.store(n, Ordering::Relaxed);
            start = s;
        }
        let diff = now_ms.saturating_sub(start);
        // The offset within a month can exceed i32::MAX (after ~24.8 days); Java keeps the low
        // 32 bits, and so do we.
        let diff = diff as u32;
        let count = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut out = String::with_capacity(self.prefix.len() + 12);
        out.push_str(&self.prefix);
        push_hex(&mut out, &diff.to_be_bytes());
        // The counter wraps at 16 bits on the wire, as Java's `(short)` write does.
        push_hex(&mut out, &((count & 0xFFFF) as u16).to_be_bytes());
        out
    }
}

/// The parts of a client unique id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UniqIdParts {
    /// Client IP.
    pub ip: IpAddr,
    /// Low 16 bits of the client's process id.
    pub pid: u16,
    /// The per-process random int.
    pub random: i32,
    /// Milliseconds since the start of the month (unsigned, as Java reads it back).
    pub month_offset_ms: u32,
    /// The 16-bit counter.
    pub counter: u16,
}

impl UniqIdParts {
    /// Best guess of the send time, given the current time: the offset is taken from the start
    /// of the current month, or of the previous month if that would lie in the future (UTC).
    pub fn approx_timestamp_ms(&self, now_ms: i64) -> i64 {
        let offset = i64::from(self.month_offset_ms);
        let (start, _) = month_bounds_ms(now_ms);
        if start.saturating_add(offset) >= now_ms {
            let (prev, _) = month_bounds_ms(start.saturating_sub(1));
            prev.saturating_add(offset)
        } else {
            start.saturating_add(offset)
        }
    }
}

/// Splits a client unique id (32 or 56 hex chars, either case) into its parts.
///
/// # Errors
/// [`MessageError::BadMessageId`] for any other length or non-hex input.
pub fn parse_uniq_id(id: &str) -> Result<UniqIdParts, MessageError> {
    let mut buf = [0u8; 28];
    let (n, v6) = match id.len() {
        32 => (16, false),
        56 => (28, true),
        _ => {
            return Err(MessageError::BadMessageId {
                reason: "unique id must be 32 or 56 hex chars",
            })
        }
    };
    let bytes = buf.get_mut(..n).ok_or(MessageError::BadMessageId {
        reason: "wrong length",
    })?;
    decode_hex(id, bytes)?;
    let mut r = Reader::at(bytes, 0);
    let ip = if v6 {
        let mut a = [0u8; 16];
        a.copy_from_slice(r.take(16)?);
        IpAddr::V6(Ipv6Addr::from(a))
    } else {
        let mut a = [0u8; 4];
        a.copy_from_slice(r.take(4)?);
        IpAddr::V4(Ipv4Addr::from(a))
    };
    let pid = r.i16()?;
    let random = r.i32()?;
    let month_offset_ms = r.u32()?;
    let counter = r.i16()?;
    Ok(UniqIdParts {
        ip,
        pid: u16::from_be_bytes(pid.to_be_bytes()),
        random,
        month_offset_ms,
        counter: u16::from_be_bytes(counter.to_be_bytes()),
    })
}

/// A stand-in client IP when the real one is unknown: the low 4 bytes of the current time in ms,
/// as Java's `createFakeIP` does.
pub fn fake_ip() -> IpAddr {
    let b = now_ms().to_be_bytes();
    IpAddr::V4(Ipv4Addr::new(b[4], b[5], b[6], b[7]))
}

fn now_ms() -> i64 {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos()
}

const MS_PER_DAY: i64 = 86_400_000;

/// Start of the UTC month containing `ms` and start of the next one (ms since the epoch).
pub(crate) fn month_bounds_ms(ms: i64) -> (i64, i64) {
    let days = ms.div_euclid(MS_PER_DAY);
    let (y, m, _) = civil_from_days(days);
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    (
        days_from_civil(y, m, 1).saturating_mul(MS_PER_DAY),
        days_from_civil(ny, nm, 1).saturating_mul(MS_PER_DAY),
    )
}

/// Days since 1970-01-01 of a proleptic Gregorian date (month 1..=12).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    // Shift the year to start in March so the leap day is the last day of the "year".
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12; // March = 0
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Proleptic Gregorian (year, month 1..=12, day) of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_id_golden() {
        let host: SocketAddr = "192.168.1.10:10911".parse().unwrap();
        let id = offset_msg_id(host, 0x0A_1B2C);
        assert_eq!(id, "C0A8010A00002A9F00000000000A1B2C");
        assert_eq!(decode_offset_msg_id(&id).unwrap(), (host, 0x0A_1B2C));
        assert_eq!(
            decode_offset_msg_id(&id.to_lowercase()).unwrap(),
            (host, 0x0A_1B2C)
        );
    }

    #[test]
    fn offset_id_v6_and_mapped_v4() {
        let host: SocketAddr = "[2001:db8::1]:10911".parse().unwrap();
        let id = offset_msg_id(host, -1);
        assert_eq!(id.len(), OFFSET_ID_LEN_V6);
        assert_eq!(decode_offset_msg_id(&id).unwrap(), (host, -1));
        let mapped: SocketAddr = "[::ffff:10.0.0.1]:9876".parse().unwrap();
        assert_eq!(offset_msg_id(mapped, 5).len(), OFFSET_ID_LEN_V4);
    }

    #[test]
    fn offset_id_rejects_bad_input() {
        for bad in [
            "",
            "C0A8010A00002A9F00000000000A1B2",
            "G0A8010A00002A9F00000000000A1B2C",
            "C0A8010A00002A9F00000000000A1B2C00",
            "C0A8010AFFFFFFFF00000000000A1B2C", // port -1
            "é0A8010A00002A9F00000000000A1B2",  // 32 bytes, one a multi-byte char
        ] {
            assert!(decode_offset_msg_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn civil_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        for z in -800_000..800_000i64 {
            if z % 997 == 0 {
                let (y, m, d) = civil_from_days(z);
                assert_eq!(days_from_civil(y, m, d), z);
            }
        }
        // 2024-02-15T12:00:00Z: month starts 2024-02-01, next 2024-03-01.
        let (s, n) = month_bounds_ms(1_707_998_400_000);
        assert_eq!(s, 1_706_745_600_000);
        assert_eq!(n, 1_709_251_200_000);
        // December rolls over into January of the next year.
        let (s, n) = month_bounds_ms(1_734_220_800_000); // 2024-12-15
        assert_eq!((s, n), (1_733_011_200_000, 1_735_689_600_000));
    }

    #[test]
    fn uniq_ids_are_unique_and_parse_back() {
        let g = UniqIdGenerator::with_parts(
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)),
            0x0B3C,
            0x1B6E_5A3F,
        );
        let now = 1_707_998_400_000; // 2024-02-15T12:00:00Z
        let a = g.next_id_at(now);
        let b = g.next_id_at(now);
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(a.starts_with("7F0000010B3C1B6E5A3F"));
        assert!(a.bytes().all(|c| HEX.contains(&c)));
        let p = parse_uniq_id(&b).unwrap();
        assert_eq!(p.ip, IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!((p.pid, p.random, p.counter), (0x0B3C, 0x1B6E_5A3F, 1));
        assert_eq!(i64::from(p.month_offset_ms), now - 1_706_745_600_000);
        assert_eq!(p.approx_timestamp_ms(now + 5_000), now);
        // Decoded right at the month start, the offset must come from the previous month.
        let march = 1_709_251_200_000;
        let late_feb = g.next_id_at(march - 1_000);
        let p = parse_uniq_id(&late_feb).unwrap();
        assert_eq!(p.approx_timestamp_ms(march + 1), march - 1_000);
    }

    #[test]
    fn uniq_id_v6_and_fresh_generator() {
        let g = UniqIdGenerator::with_parts("2001:db8::7".parse().unwrap(), 1, -1);
        let id = g.next_id();
        assert_eq!(id.len(), 56);
        assert_eq!(
            parse_uniq_id(&id).unwrap().ip,
            "2001:db8::7".parse::<IpAddr>().unwrap()
        );
        let g = UniqIdGenerator::new(fake_ip());
        let ids: std::collections::HashSet<_> = (0..1000).map(|_| g.next_id()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(parse_uniq_id("XYZ").is_err());
    }
}
