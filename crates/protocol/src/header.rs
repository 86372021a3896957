//! Typed custom headers: one struct per request/response header, read from and written to
//! [`ExtFields`] under the Java field names.
//!
//! Rules (Java `RemotingCommand.decodeCommandCustomHeader`): a missing required key is
//! [`HeaderError::MissingField`]; unknown keys (ACL keys, 5.x base keys such as `ns`, `oway`) are
//! ignored; optional values are emitted only when set. Integers and booleans travel as decimal
//! text and `true`/`false` (`1`/`0` accepted on input).
//!
//! Files: [`send`], [`pull`], [`offset`], [`client`], [`transaction`], [`query`], [`namesrv`],
//! [`admin`].

use crate::ext::{ExtFields, HeaderError};

pub mod admin;
pub mod client;
pub mod namesrv;
pub mod offset;
pub mod pull;
pub mod query;
pub mod send;
pub mod transaction;

pub use admin::*;
pub use client::*;
pub use namesrv::*;
pub use offset::*;
pub use pull::*;
pub use query::*;
pub use send::*;
pub use transaction::*;

/// A typed view of a command's `extFields`.
pub trait CommandHeader: Sized {
    /// Every key this header reads and writes, in emission order.
    const FIELDS: &'static [HeaderField];

    /// Reads the header; missing required keys and malformed values are errors.
    fn from_ext(ext: &ExtFields) -> Result<Self, HeaderError>;

    /// Writes the header (optional fields only when set).
    fn to_ext(&self) -> ExtFields;
}

/// Description of one header key, for introspection and generic tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderField {
    /// The `extFields` key (Java field name).
    pub key: &'static str,
    /// The value type.
    pub kind: FieldKind,
    /// Whether decoding fails without it.
    pub required: bool,
}

/// Value type of a header key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Free text.
    Str,
    /// Java `int`.
    Int,
    /// Java `long`.
    Long,
    /// Java `boolean`.
    Bool,
}

/// A Rust field type that maps to one `extFields` entry. `Option<T>` makes a key optional.
pub trait HeaderValue: Sized {
    /// The value type.
    const KIND: FieldKind;
    /// Whether the key must be present.
    const REQUIRED: bool;
    /// Reads the value of `key`.
    fn read(ext: &ExtFields, key: &'static str) -> Result<Self, HeaderError>;
    /// Writes the value under `key` (nothing for `None`).
    fn write(&self, ext: &mut ExtFields, key: &'static str);
}

impl HeaderValue for String {
    const KIND: FieldKind = FieldKind::Str;
    const REQUIRED: bool = true;
    fn read(ext: &ExtFields, key: &'static str) -> Result<Self, HeaderError> {
        ext.required_string(key)
    }
    fn write(&self, ext: &mut ExtFields, key: &'static str) {
        ext.insert(key, self.as_str());
    }
}

impl HeaderValue for i32 {
    const KIND: FieldKind = FieldKind::Int;
    const REQUIRED: bool = true;
    fn read(ext: &ExtFields, key: &'static str) -> Result<Self, HeaderError> {
        ext.required_i32(key)
    }
    fn write(&self, ext: &mut ExtFields, key: &'static str) {
        ext.insert_int(key, i64::from(*self));
    }
}

impl HeaderValue for i64 {
    const KIND: FieldKind = FieldKind::Long;
    const REQUIRED: bool = true;
    fn read(ext: &ExtFields, key: &'static str) -> Result<Self, HeaderError> {
        ext.required_i64(key)
    }
    fn write(&self, ext: &mut ExtFields, key: &'static str) {
        ext.insert_int(key, *self);
    }
}

impl HeaderValue for bool {
    const KIND: FieldKind = FieldKind::Bool;
    const REQUIRED: bool = true;
    fn read(ext: &ExtFields, key: &'static str) -> Result<Self, HeaderError> {
        ext.required_bool(key)
    }
    fn write(&self, ext: &mut ExtFields, key: &'static str) {
        ext.insert(key, if *self { "true" } else { "false" });
    }
}

impl HeaderValue for Option<String> {
    const KIND: FieldKind = FieldKind::Str;
    const REQUIRED: bool = false;
    fn read(ext: &ExtFields, key: &'static str) -> Result<Self, HeaderError> {
        Ok(ext.optional_string(key))
    }
    fn write(&self, ext: &mut ExtFields, key: &'static str) {
        if let Some(v) = self {
            v.write(ext, key);
        }
    }
}

impl HeaderValue for Option<i32> {
    const KIND: FieldKind = FieldKind::Int;
    const REQUIRED: bool = false;
    fn read(ext: &ExtFields, key: &'static str) -> Result<Self, HeaderError> {
        ext.optional_i32(key)
    }
    fn write(&self, ext: &mut ExtFields, key: &'static str) {
        if let Some(v) = self {
            v.write(ext, key);
        }
    }
}

impl HeaderValue for Option<i64> {
    const KIND: FieldKind = FieldKind::Long;
    const REQUIRED: bool = false;
    fn read(ext: &ExtFields, key: &'static str) -> Result<Self, HeaderError> {
        ext.optional_i64(key)
    }
    fn write(&self, ext: &mut ExtFields, key: &'static str) {
        if let Some(v) = self {
            v.write(ext, key);
        }
    }
}

impl HeaderValue for Option<bool> {
    const KIND: FieldKind = FieldKind::Bool;
    const REQUIRED: bool = false;
    fn read(ext: &ExtFields, key: &'static str) -> Result<Self, HeaderError> {
        ext.optional_bool(key)
    }
    fn write(&self, ext: &mut ExtFields, key: &'static str) {
        if let Some(v) = self {
            v.write(ext, key);
        }
    }
}

/// Declares a header struct whose fields map one-to-one to `extFields` keys.
macro_rules! command_header {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty => $key:literal ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        impl $crate::header::CommandHeader for $name {
            const FIELDS: &'static [$crate::header::HeaderField] = &[
                $( $crate::header::HeaderField {
                    key: $key,
                    kind: <$ty as $crate::header::HeaderValue>::KIND,
                    required: <$ty as $crate::header::HeaderValue>::REQUIRED,
                }, )*
            ];

            #[allow(unused_variables)]
            fn from_ext(
                ext: &$crate::ext::ExtFields,
            ) -> Result<Self, $crate::ext::HeaderError> {
                Ok(Self {
                    $( $field: <$ty as $crate::header::HeaderValue>::read(ext, $key)?, )*
                })
            }

            fn to_ext(&self) -> $crate::ext::ExtFields {
                #[allow(unused_mut)]
                let mut ext = $crate::ext::ExtFields::with_capacity(Self::FIELDS.len());
                $( $crate::header::HeaderValue::write(&self.$field, &mut ext, $key); )*
                ext
            }
        }
    };
}
pub(crate) use command_header;

/// Reads a typed header straight from a command.
pub fn decode_header<H: CommandHeader>(
    cmd: &crate::command::RemotingCommand,
) -> Result<H, HeaderError> {
    H::from_ext(&cmd.ext_fields)
}
