//! Bits of a message's SYSFLAG field and of a pull request's `sysFlag` header.
//!
//! Message sysflag layout (low byte, then bits 8..10):
//! `0x1` compressed, `0x2` multi tags, `0xC` transaction type, `0x10` born host IPv6,
//! `0x20` store host IPv6, `0x40` needs unwrap, `0x80` inner batch, `0x700` compression type.

use super::MessageError;

/// The body is compressed (with the codec named by the compression-type bits).
pub const COMPRESSED: i32 = 0x1;
/// The topic uses the MULTI_TAG filter type; set by the broker.
pub const MULTI_TAGS: i32 = 0x1 << 1;
/// Mask of the two transaction-type bits.
pub const TRANSACTION_MASK: i32 = 0x3 << 2;
/// Not part of a transaction.
pub const TRANSACTION_NOT_TYPE: i32 = 0;
/// A transactional half message, not yet visible to consumers.
pub const TRANSACTION_PREPARED_TYPE: i32 = 0x1 << 2;
/// A commit of a half message.
pub const TRANSACTION_COMMIT_TYPE: i32 = 0x2 << 2;
/// A rollback of a half message.
pub const TRANSACTION_ROLLBACK_TYPE: i32 = 0x3 << 2;
/// The born host is IPv6 (16-byte address).
pub const BORN_HOST_V6: i32 = 0x1 << 4;
/// The store host is IPv6 (16-byte address).
pub const STORE_HOST_V6: i32 = 0x1 << 5;
/// 5.x: a batch record that must be unwrapped.
pub const NEED_UNWRAP: i32 = 0x1 << 6;
/// 5.x: one record holds many messages (auto batch).
pub const INNER_BATCH: i32 = 0x1 << 7;
/// Compression type bits for LZ4.
pub const COMPRESSION_LZ4: i32 = 0x1 << 8;
/// Compression type bits for Zstandard.
pub const COMPRESSION_ZSTD: i32 = 0x2 << 8;
/// Compression type bits for zlib.
pub const COMPRESSION_ZLIB: i32 = 0x3 << 8;
/// Mask of the three compression-type bits.
pub const COMPRESSION_TYPE_MASK: i32 = 0x7 << 8;

/// Codec of a compressed body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompressionType {
    /// zlib stream (RFC 1950); also what type bits `0` mean, for clients older than the type bits.
    Zlib,
    /// LZ4.
    Lz4,
    /// Zstandard.
    Zstd,
}

impl CompressionType {
    /// The sysflag bits that name this codec.
    pub fn flag_bits(self) -> i32 {
        match self {
            Self::Zlib => COMPRESSION_ZLIB,
            Self::Lz4 => COMPRESSION_LZ4,
            Self::Zstd => COMPRESSION_ZSTD,
        }
    }
}

/// Transaction role of a message, from the two transaction bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionType {
    /// Ordinary message.
    NotTransaction,
    /// Half message.
    Prepared,
    /// Commit record.
    Commit,
    /// Rollback record.
    Rollback,
}

impl TransactionType {
    /// Reads the transaction bits of `flag`.
    pub fn of(flag: i32) -> Self {
        match flag & TRANSACTION_MASK {
            TRANSACTION_PREPARED_TYPE => Self::Prepared,
            TRANSACTION_COMMIT_TYPE => Self::Commit,
            TRANSACTION_ROLLBACK_TYPE => Self::Rollback,
            _ => Self::NotTransaction,
        }
    }

    /// The bits this type sets.
    pub fn bits(self) -> i32 {
        match self {
            Self::NotTransaction => TRANSACTION_NOT_TYPE,
            Self::Prepared => TRANSACTION_PREPARED_TYPE,
            Self::Commit => TRANSACTION_COMMIT_TYPE,
            Self::Rollback => TRANSACTION_ROLLBACK_TYPE,
        }
    }
}

/// Whether the body is compressed.
pub fn is_compressed(flag: i32) -> bool {
    flag & COMPRESSED != 0
}

/// `flag` without the compressed bit (what a consumer keeps after decompressing).
pub fn clear_compressed(flag: i32) -> i32 {
    flag & !COMPRESSED
}

/// Whether the topic's filter type is MULTI_TAG.
pub fn has_multi_tags(flag: i32) -> bool {
    flag & MULTI_TAGS != 0
}

/// The raw transaction bits (one of the `TRANSACTION_*_TYPE` constants).
pub fn transaction_value(flag: i32) -> i32 {
    flag & TRANSACTION_MASK
}

/// `flag` with its transaction bits replaced by `ty` (one of the `TRANSACTION_*_TYPE` constants).
pub fn reset_transaction_value(flag: i32, ty: i32) -> i32 {
    (flag & !TRANSACTION_MASK) | (ty & TRANSACTION_MASK)
}

/// Whether the born host is stored as IPv6.
pub fn is_born_host_v6(flag: i32) -> bool {
    flag & BORN_HOST_V6 != 0
}

/// Whether the store host is stored as IPv6.
pub fn is_store_host_v6(flag: i32) -> bool {
    flag & STORE_HOST_V6 != 0
}

/// `flag` with the born/store IPv6 bits set to match the given address families.
pub fn with_host_families(flag: i32, born_v6: bool, store_v6: bool) -> i32 {
    let mut out = flag & !(BORN_HOST_V6 | STORE_HOST_V6);
    if born_v6 {
        out |= BORN_HOST_V6;
    }
    if store_v6 {
        out |= STORE_HOST_V6;
    }
    out
}

/// The codec named by the compression-type bits (meaningful only when [`is_compressed`]).
///
/// # Errors
/// [`MessageError::UnknownCompression`] for type values 4..=7, which no client defines.
pub fn compression_type(flag: i32) -> Result<CompressionType, MessageError> {
    match (flag & COMPRESSION_TYPE_MASK) >> 8 {
        // Type 0 predates the type bits; those clients only knew zlib.
        0 | 3 => Ok(CompressionType::Zlib),
        1 => Ok(CompressionType::Lz4),
        2 => Ok(CompressionType::Zstd),
        other => Err(MessageError::UnknownCompression(other)),
    }
}

/// `flag` with the compressed bit and the compression-type bits for `ty` set.
pub fn with_compression(flag: i32, ty: CompressionType) -> i32 {
    (flag & !COMPRESSION_TYPE_MASK) | COMPRESSED | ty.flag_bits()
}

/// Bits of the PULL_MESSAGE request header's `sysFlag`.
pub mod pull {
    /// Commit the consumer offset carried in the request (`commitOffset`).
    pub const COMMIT_OFFSET: i32 = 0x1;
    /// Long polling: the broker may hold the request until messages arrive.
    pub const SUSPEND: i32 = 0x1 << 1;
    /// The request carries a subscription expression to use instead of the stored one.
    pub const SUBSCRIPTION: i32 = 0x1 << 2;
    /// Class filter mode (obsolete filter server).
    pub const CLASS_FILTER: i32 = 0x1 << 3;
    /// Sent by a lite pull consumer.
    pub const LITE_PULL: i32 = 0x1 << 4;

    /// Builds a pull sysflag from its parts.
    pub fn build(
        commit_offset: bool,
        suspend: bool,
        subscription: bool,
        class_filter: bool,
        lite_pull: bool,
    ) -> i32 {
        let mut flag = 0;
        for (on, bit) in [
            (commit_offset, COMMIT_OFFSET),
            (suspend, SUSPEND),
            (subscription, SUBSCRIPTION),
            (class_filter, CLASS_FILTER),
            (lite_pull, LITE_PULL),
        ] {
            if on {
                flag |= bit;
            }
        }
        flag
    }

    /// Whether the request asks to commit an offset.
    pub fn has_commit_offset(flag: i32) -> bool {
        flag & COMMIT_OFFSET != 0
    }

    /// `flag` without the commit-offset bit (the broker clears it when it must not commit).
    pub fn clear_commit_offset(flag: i32) -> i32 {
        flag & !COMMIT_OFFSET
    }

    /// Whether the request allows long polling.
    pub fn has_suspend(flag: i32) -> bool {
        flag & SUSPEND != 0
    }

    /// `flag` without the suspend bit.
    pub fn clear_suspend(flag: i32) -> i32 {
        flag & !SUSPEND
    }

    /// Whether the request carries its own subscription.
    pub fn has_subscription(flag: i32) -> bool {
        flag & SUBSCRIPTION != 0
    }

    /// Whether the request is in class filter mode.
    pub fn has_class_filter(flag: i32) -> bool {
        flag & CLASS_FILTER != 0
    }

    /// Whether the request comes from a lite pull consumer.
    pub fn has_lite_pull(flag: i32) -> bool {
        flag & LITE_PULL != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_bits_round_trip() {
        for ty in [
            TransactionType::NotTransaction,
            TransactionType::Prepared,
            TransactionType::Commit,
            TransactionType::Rollback,
        ] {
            let flag =
                reset_transaction_value(COMPRESSED | BORN_HOST_V6 | TRANSACTION_MASK, ty.bits());
            assert_eq!(TransactionType::of(flag), ty);
            assert!(is_compressed(flag) && is_born_host_v6(flag));
        }
        assert_eq!(transaction_value(0x4 | 0x1), TRANSACTION_PREPARED_TYPE);
    }

    #[test]
    fn compression_type_zero_means_zlib() {
        assert_eq!(compression_type(COMPRESSED), Ok(CompressionType::Zlib));
        for ty in [
            CompressionType::Zlib,
            CompressionType::Lz4,
            CompressionType::Zstd,
        ] {
            let flag = with_compression(MULTI_TAGS, ty);
            assert!(is_compressed(flag) && has_multi_tags(flag));
            assert_eq!(compression_type(flag), Ok(ty));
        }
        assert_eq!(
            compression_type(0x4 << 8),
            Err(MessageError::UnknownCompression(4))
        );
        assert_eq!(clear_compressed(COMPRESSED | MULTI_TAGS), MULTI_TAGS);
    }

    #[test]
    fn host_family_bits() {
        let flag = with_host_families(BORN_HOST_V6 | COMPRESSED, false, true);
        assert!(!is_born_host_v6(flag) && is_store_host_v6(flag) && is_compressed(flag));
    }

    #[test]
    fn pull_flags() {
        let flag = pull::build(true, true, true, false, false);
        assert_eq!(flag, 0x7);
        assert!(pull::has_commit_offset(flag) && pull::has_suspend(flag));
        assert!(pull::has_subscription(flag) && !pull::has_class_filter(flag));
        assert!(!pull::has_lite_pull(flag));
        assert_eq!(pull::clear_commit_offset(flag), 0x6);
        assert_eq!(pull::clear_suspend(flag), 0x5);
        assert!(pull::has_lite_pull(pull::build(
            false, false, false, false, true
        )));
    }
}
