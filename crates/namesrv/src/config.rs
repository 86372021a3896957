//! [`NamesrvConfig`]: where the name server listens and how it decides a broker is gone.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use serde::Deserialize;

use crate::error::NamesrvError;

/// Name server settings. Every field has a default, so an empty TOML table is a valid config.
///
/// Durations accept an integer number of milliseconds or a string with a unit
/// (`"300ms"`, `"5s"`, `"2m"`, `"1h"`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct NamesrvConfig {
    /// Address to listen on (default `0.0.0.0:9876`, RocketMQ's name server port).
    pub listen: SocketAddr,
    /// A broker not heard from (REGISTER_BROKER, QUERY_DATA_VERSION, BROKER_HEARTBEAT) for this
    /// long is dropped (default 120 s, Java's `BROKER_CHANNEL_EXPIRED_TIME`).
    #[serde(with = "duration")]
    pub broker_expiry: Duration,
    /// How often silent brokers are looked for (default 5 s).
    #[serde(with = "duration")]
    pub scan_interval: Duration,
}

impl Default for NamesrvConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 9876)),
            broker_expiry: Duration::from_secs(120),
            scan_interval: Duration::from_secs(5),
        }
    }
}

impl NamesrvConfig {
    /// Checks values serde cannot: both durations must be non-zero.
    ///
    /// # Errors
    /// [`NamesrvError::Config`] naming the bad field.
    pub fn validate(&self) -> Result<(), NamesrvError> {
        if self.broker_expiry.is_zero() {
            return Err(NamesrvError::Config("broker_expiry must be > 0".into()));
        }
        if self.scan_interval.is_zero() {
            return Err(NamesrvError::Config("scan_interval must be > 0".into()));
        }
        Ok(())
    }
}

/// Serde for durations written as milliseconds or as `<number><unit>` text.
mod duration {
    use std::fmt;
    use std::time::Duration;

    use serde::de::{self, Visitor};
    use serde::Deserializer;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        d.deserialize_any(DurationVisitor)
    }

    struct DurationVisitor;

    impl Visitor<'_> for DurationVisitor {
        type Value = Duration;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("milliseconds or a duration such as \"300ms\", \"5s\", \"2m\", \"1h\"")
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
            Ok(Duration::from_millis(v))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
            u64::try_from(v)
                .map(Duration::from_millis)
                .map_err(|_| E::custom("a duration cannot be negative"))
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
            parse(v).ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
        }
    }

    /// Parses `"<digits><unit>"`; a bare number is milliseconds.
    pub(super) fn parse(text: &str) -> Option<Duration> {
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (digits, unit) = text.split_at(split);
        let n: u64 = digits.parse().ok()?;
        match unit.trim() {
            "" | "ms" => Some(Duration::from_millis(n)),
            "s" => Some(Duration::from_secs(n)),
            "m" | "min" => Some(Duration::from_secs(n.checked_mul(60)?)),
            "h" => Some(Duration::from_secs(n.checked_mul(3600)?)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_units() {
        let empty: NamesrvConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(empty, NamesrvConfig::default());
        assert_eq!(empty.broker_expiry, Duration::from_secs(120));
        assert_eq!(empty.scan_interval, Duration::from_secs(5));

        let c: NamesrvConfig = serde_json::from_str(
            r#"{"listen":"127.0.0.1:0","broker_expiry":"300ms","scan_interval":50}"#,
        )
        .unwrap();
        assert_eq!(c.broker_expiry, Duration::from_millis(300));
        assert_eq!(c.scan_interval, Duration::from_millis(50));
        assert!(c.validate().is_ok());

        assert_eq!(duration::parse("2m"), Some(Duration::from_secs(120)));
        assert_eq!(duration::parse("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(duration::parse("5 s"), Some(Duration::from_secs(5)));
        assert_eq!(duration::parse("5x"), None);
        assert_eq!(duration::parse("s"), None);
        assert!(serde_json::from_str::<NamesrvConfig>(r#"{"broker_expiry":-1}"#).is_err());

        let zero = NamesrvConfig {
            scan_interval: Duration::ZERO,
            ..NamesrvConfig::default()
        };
        assert!(zero.validate().is_err());
    }
}
