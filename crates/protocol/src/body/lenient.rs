//! Serde helpers that accept what real peers send instead of what the Java beans declare:
//! numbers as strings, booleans as `0`/`1`, `null` for anything, enums as names or ordinals.
//!
//! Use with `#[serde(default, deserialize_with = "lenient::i64")]`.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, Visitor};

/// Integer types the lenient visitor can produce.
pub trait LenientInt: Sized + Default + TryFrom<i64> + TryFrom<u64> + std::str::FromStr {}
impl LenientInt for i32 {}
impl LenientInt for i64 {}
impl LenientInt for u32 {}
impl LenientInt for u64 {}
impl LenientInt for i16 {}

struct IntVisitor<T>(PhantomData<T>);

impl<'de, T: LenientInt> Visitor<'de> for IntVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an integer, a decimal string or null")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        T::try_from(v).map_err(|_| E::custom(format_args!("integer {v} out of range")))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        T::try_from(v).map_err(|_| E::custom(format_args!("integer {v} out of range")))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        // fastjson may write whole numbers as 1.0E3-style doubles; accept exact integers only.
        if v.fract() == 0.0 && v >= i64::MIN as f64 && v <= i64::MAX as f64 {
            #[allow(clippy::cast_possible_truncation)]
            let i = v as i64;
            self.visit_i64(i)
        } else {
            Err(E::custom(format_args!("{v} is not an integer")))
        }
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<T, E> {
        self.visit_i64(i64::from(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        let t = v.trim();
        if t.is_empty() {
            return Ok(T::default());
        }
        t.parse()
            .map_err(|_| E::custom(format_args!("{v:?} is not an integer")))
    }

    fn visit_unit<E: de::Error>(self) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_none<E: de::Error>(self) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        d.deserialize_any(self)
    }
}

/// Deserializes an integer given as a number, a decimal string, a bool or null (→ 0).
pub fn int<'de, D: Deserializer<'de>, T: LenientInt>(d: D) -> Result<T, D::Error> {
    d.deserialize_any(IntVisitor(PhantomData))
}

/// [`int`] for `i32`.
pub fn i32<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    int(d)
}

/// [`int`] for `i64`.
pub fn i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    int(d)
}

/// An optional `i64`: absent/null/"" → `None`.
pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<i64>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an integer or null")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            if v.trim().is_empty() {
                Ok(None)
            } else {
                IntVisitor::<i64>(PhantomData).visit_str(v).map(Some)
            }
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            IntVisitor::<i64>(PhantomData).visit_u64(v).map(Some)
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            IntVisitor::<i64>(PhantomData).visit_f64(v).map(Some)
        }
    }
    d.deserialize_any(V)
}

struct BoolVisitor;

impl<'de> Visitor<'de> for BoolVisitor {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a boolean, 0/1, \"true\"/\"false\" or null")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        Ok(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
        Ok(v != 0)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
        Ok(v != 0)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        let t = v.trim();
        if t.eq_ignore_ascii_case("true") || t == "1" {
            Ok(true)
        } else if t.is_empty() || t.eq_ignore_ascii_case("false") || t == "0" {
            Ok(false)
        } else {
            Err(E::custom(format_args!("{v:?} is not a boolean")))
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_none<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

/// Deserializes a boolean given as a bool, a number, a string or null (→ false).
pub fn bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    d.deserialize_any(BoolVisitor)
}

struct StringVisitor;

impl<'de> Visitor<'de> for StringVisitor {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string, a scalar or null")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

/// A string that may arrive as a number or bool (coerced to text) or null (→ "").
pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_any(StringVisitor)
        .map(Option::unwrap_or_default)
}

/// An optional string: null → `None`; scalars are coerced to text.
pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    d.deserialize_any(StringVisitor)
}

/// An optional string where `""` also means absent (e.g. `remark` from the C++ client).
pub fn opt_non_empty_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    opt_string(d).map(|s| s.filter(|s| !s.is_empty()))
}

/// A Java enum that may arrive as its name or its ordinal. Implement it for each body enum and
/// deserialize with [`enum_value`].
pub trait JavaEnum: Sized + Default {
    /// Parses the Java name.
    fn from_name(name: &str) -> Option<Self>;
    /// Parses the Java ordinal.
    fn from_ordinal(ordinal: i64) -> Option<Self>;
}

struct EnumVisitor<T>(PhantomData<T>);

impl<'de, T: JavaEnum> Visitor<'de> for EnumVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an enum name or ordinal")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        let t = v.trim();
        if t.is_empty() {
            return Ok(T::default());
        }
        if let Ok(n) = t.parse::<i64>() {
            return self.visit_i64(n);
        }
        T::from_name(t).ok_or_else(|| E::custom(format_args!("unknown enum name {v:?}")))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        T::from_ordinal(v).ok_or_else(|| E::custom(format_args!("unknown enum ordinal {v}")))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        let v = i64::try_from(v).map_err(|_| E::custom("enum ordinal out of range"))?;
        self.visit_i64(v)
    }

    fn visit_unit<E: de::Error>(self) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_none<E: de::Error>(self) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        d.deserialize_any(self)
    }
}

/// Deserializes a [`JavaEnum`] from a name, an ordinal (number or numeric string) or null.
pub fn enum_value<'de, D: Deserializer<'de>, T: JavaEnum>(d: D) -> Result<T, D::Error> {
    d.deserialize_any(EnumVisitor(PhantomData))
}

/// Makes a `Vec` field accept `null` as empty.
pub fn vec<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<Vec<T>> as serde::Deserialize>::deserialize(d).map(Option::unwrap_or_default)
}

/// Makes any `Default` field accept `null` as its default.
pub fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: serde::Deserialize<'de> + Default,
{
    <Option<T> as serde::Deserialize>::deserialize(d).map(Option::unwrap_or_default)
}

/// A string→string map whose values may arrive as numbers/bools (coerced) or null (dropped).
pub fn string_map<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<std::collections::BTreeMap<String, String>, D::Error> {
    let ext = <Option<crate::ext::ExtFields> as serde::Deserialize>::deserialize(d)?;
    Ok(ext
        .unwrap_or_default()
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect())
}

/// A list of integers that may each arrive as a number or a decimal string.
pub fn vec_i32<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<i32>, D::Error> {
    #[derive(serde::Deserialize)]
    struct Item(#[serde(deserialize_with = "i32")] i32);
    let items = <Option<Vec<Item>> as serde::Deserialize>::deserialize(d)?;
    Ok(items.unwrap_or_default().into_iter().map(|i| i.0).collect())
}

/// Declares a Java enum that is written as its name and read from a name or an ordinal.
macro_rules! java_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = ($ordinal:literal, $java:literal) ),+ $(,)?
        }
        default = $default:ident;
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl Default for $name {
            fn default() -> Self {
                $name::$default
            }
        }

        impl $name {
            /// The Java enum name.
            pub fn name(self) -> &'static str {
                match self {
                    $( $name::$variant => $java, )+
                }
            }

            /// The Java ordinal.
            pub fn ordinal(self) -> i64 {
                match self {
                    $( $name::$variant => $ordinal, )+
                }
            }
        }

        impl $crate::body::lenient::JavaEnum for $name {
            fn from_name(name: &str) -> Option<Self> {
                match name {
                    $( $java => Some($name::$variant), )+
                    _ => None,
                }
            }

            fn from_ordinal(ordinal: i64) -> Option<Self> {
                match ordinal {
                    $( $ordinal => Some($name::$variant), )+
                    _ => None,
                }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.name())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $crate::body::lenient::enum_value(d)
            }
        }
    };
}
pub(crate) use java_enum;

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize, Debug, PartialEq, Default)]
    #[serde(default)]
    struct T {
        #[serde(deserialize_with = "super::i64")]
        a: i64,
        #[serde(deserialize_with = "super::bool")]
        b: bool,
        #[serde(deserialize_with = "super::string")]
        c: String,
        #[serde(deserialize_with = "super::opt_i64")]
        d: Option<i64>,
    }

    #[test]
    fn accepts_strings_numbers_and_nulls() {
        let t: T = serde_json::from_str(r#"{"a":"17","b":"1","c":5,"d":""}"#).unwrap();
        assert_eq!(
            t,
            T {
                a: 17,
                b: true,
                c: "5".into(),
                d: None
            }
        );
        let t: T = serde_json::from_str(r#"{"a":null,"b":null,"c":null,"d":"-3"}"#).unwrap();
        assert_eq!(t.d, Some(-3));
        assert_eq!(t.a, 0);
        assert!(serde_json::from_str::<T>(r#"{"a":"x"}"#).is_err());
        assert!(serde_json::from_str::<T>(r#"{"a":1.5}"#).is_err());
        let t: T = serde_json::from_str(r#"{"a":3.0}"#).unwrap();
        assert_eq!(t.a, 3);
    }
}
