//! REGISTER_BROKER body ([`RegisterBrokerBody`]) in its JSON and compressed (zlib) forms, plus
//! [`TopicConfig`], [`TopicConfigSerializeWrapper`] and [`DataVersion`].

use std::collections::BTreeMap;
use std::io::{Read, Write};

use serde::{Deserialize, Serialize};

use super::lenient::{self, java_enum};
use super::BodyError;

/// Limit on the inflated size of a compressed registration (guards against zlib bombs).
pub const MAX_INFLATED_LEN: usize = 64 * 1024 * 1024;

java_enum! {
    /// How a topic's tags are filtered.
    pub enum TopicFilterType {
        /// One tag per message.
        SingleTag = (0, "SINGLE_TAG"),
        /// Several tags per message.
        MultiTag = (1, "MULTI_TAG"),
    }
    default = SingleTag;
}

/// A broker's version of its topic table; changes whenever a topic changes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct DataVersion {
    /// Change counter.
    #[serde(deserialize_with = "lenient::i64")]
    pub counter: i64,
    /// 5.x state version (absent in 4.x, read as 0).
    #[serde(deserialize_with = "lenient::i64")]
    pub state_version: i64,
    /// Time of the last change (ms).
    #[serde(deserialize_with = "lenient::i64")]
    pub timestamp: i64,
}

/// One topic's configuration on a broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TopicConfig {
    /// 5.x attributes.
    #[serde(deserialize_with = "lenient::string_map")]
    pub attributes: BTreeMap<String, String>,
    /// Ordered topic.
    #[serde(deserialize_with = "lenient::bool")]
    pub order: bool,
    /// Permission bits.
    #[serde(deserialize_with = "lenient::i32")]
    pub perm: i32,
    /// Readable queues.
    #[serde(deserialize_with = "lenient::i32")]
    pub read_queue_nums: i32,
    /// Tag filter type.
    pub topic_filter_type: TopicFilterType,
    /// Topic name.
    #[serde(deserialize_with = "lenient::string")]
    pub topic_name: String,
    /// Topic system flag.
    #[serde(deserialize_with = "lenient::i32")]
    pub topic_sys_flag: i32,
    /// Writable queues.
    #[serde(deserialize_with = "lenient::i32")]
    pub write_queue_nums: i32,
}

impl Default for TopicConfig {
    /// Java's defaults: 16 read/write queues, read + write permission.
    fn default() -> Self {
        TopicConfig {
            attributes: BTreeMap::new(),
            order: false,
            perm: 6,
            read_queue_nums: 16,
            topic_filter_type: TopicFilterType::SingleTag,
            topic_name: String::new(),
            topic_sys_flag: 0,
            write_queue_nums: 16,
        }
    }
}

impl TopicConfig {
    /// Java's space-separated text form used inside compressed registrations:
    /// `name read write perm FILTERTYPE [attributesJson]`.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "{} {} {} {} {}",
            self.topic_name,
            self.read_queue_nums,
            self.write_queue_nums,
            self.perm,
            self.topic_filter_type.name()
        );
        if !self.attributes.is_empty() {
            s.push(' ');
            s.push_str(&String::from_utf8_lossy(&super::encode(&self.attributes)));
        }
        s
    }

    /// Parses [`TopicConfig::to_text`]. `order` and `topicSysFlag` are not in this form.
    pub fn from_text(text: &str) -> Result<Self, BodyError> {
        let bad = || BodyError::Compressed(format!("bad topic config text {text:?}"));
        let mut parts = text.splitn(6, ' ');
        let mut next = || parts.next().ok_or_else(bad);
        let topic_name = next()?.to_owned();
        let read_queue_nums = next()?.parse().map_err(|_| bad())?;
        let write_queue_nums = next()?.parse().map_err(|_| bad())?;
        let perm = next()?.parse().map_err(|_| bad())?;
        let filter = next()?;
        let topic_filter_type =
            <TopicFilterType as lenient::JavaEnum>::from_name(filter).ok_or_else(bad)?;
        let attributes = match parts.next() {
            Some(json) if !json.trim().is_empty() => {
                #[derive(Deserialize)]
                struct A(
                    #[serde(deserialize_with = "lenient::string_map")] BTreeMap<String, String>,
                );
                super::decode::<A>(json.as_bytes())?.0
            }
            _ => BTreeMap::new(),
        };
        Ok(TopicConfig {
            attributes,
            perm,
            read_queue_nums,
            topic_filter_type,
            topic_name,
            write_queue_nums,
            ..TopicConfig::default()
        })
    }
}

/// A broker's topic table with its version (also the GET_ALL_TOPIC_CONFIG response body).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TopicConfigSerializeWrapper {
    /// Version of the table.
    #[serde(deserialize_with = "lenient::null_default")]
    pub data_version: DataVersion,
    /// 5.x static-topic mapping version; passed through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mapping_data_version: Option<serde_json::Value>,
    /// Topic name → config.
    #[serde(deserialize_with = "lenient::null_default")]
    pub topic_config_table: BTreeMap<String, TopicConfig>,
    /// 5.x static-topic details; passed through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_queue_mapping_detail_map: Option<serde_json::Value>,
    /// 5.x static-topic info; passed through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_queue_mapping_info_map: Option<serde_json::Value>,
}

/// REGISTER_BROKER body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RegisterBrokerBody {
    /// Obsolete filter servers.
    #[serde(deserialize_with = "lenient::vec")]
    pub filter_server_list: Vec<String>,
    /// The broker's topics.
    #[serde(deserialize_with = "lenient::null_default")]
    pub topic_config_serialize_wrapper: TopicConfigSerializeWrapper,
}

impl RegisterBrokerBody {
    /// Decodes the body as the `compressed` header says.
    pub fn decode(body: &[u8], compressed: bool) -> Result<Self, BodyError> {
        if compressed {
            Self::decode_compressed(body)
        } else {
            super::decode(body)
        }
    }

    /// Decodes the zlib form: `len+DataVersion JSON | count | (len+topic text)* |
    /// len+filterServerList JSON | [5.x mapping section, skipped]`. `order`/`topicSysFlag`
    /// are not carried by this form and read back as defaults.
    pub fn decode_compressed(body: &[u8]) -> Result<Self, BodyError> {
        let mut inflated = Vec::new();
        flate2::read::ZlibDecoder::new(body)
            .take(MAX_INFLATED_LEN as u64 + 1)
            .read_to_end(&mut inflated)
            .map_err(|e| BodyError::Compressed(e.to_string()))?;
        if inflated.len() > MAX_INFLATED_LEN {
            return Err(BodyError::Compressed("inflated body too large".into()));
        }
        let mut r = Chunks { buf: &inflated };
        let data_version: DataVersion = super::decode(r.chunk()?)?;
        let count = r.count()?;
        let mut table = BTreeMap::new();
        for _ in 0..count {
            let text = String::from_utf8_lossy(r.chunk()?);
            let tc = TopicConfig::from_text(&text)?;
            table.insert(tc.topic_name.clone(), tc);
        }
        let filter_server_list: Vec<String> = super::decode(r.chunk()?)?;
        Ok(RegisterBrokerBody {
            filter_server_list,
            topic_config_serialize_wrapper: TopicConfigSerializeWrapper {
                data_version,
                topic_config_table: table,
                ..Default::default()
            },
        })
    }

    /// Encodes the zlib form (4.x layout, no mapping section).
    pub fn encode_compressed(&self) -> Result<Vec<u8>, BodyError> {
        let mut raw = Vec::new();
        let wrapper = &self.topic_config_serialize_wrapper;
        put_chunk(&mut raw, &super::encode(&wrapper.data_version))?;
        put_len(&mut raw, wrapper.topic_config_table.len())?;
        for tc in wrapper.topic_config_table.values() {
            put_chunk(&mut raw, tc.to_text().as_bytes())?;
        }
        put_chunk(&mut raw, &super::encode(&self.filter_server_list))?;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(&raw)
            .and_then(|()| z.finish())
            .map_err(|e| BodyError::Compressed(e.to_string()))
    }
}

fn put_len(dst: &mut Vec<u8>, n: usize) -> Result<(), BodyError> {
    let n = i32::try_from(n).map_err(|_| BodyError::Compressed("section too large".into()))?;
    dst.extend_from_slice(&n.to_be_bytes());
    Ok(())
}

fn put_chunk(dst: &mut Vec<u8>, chunk: &[u8]) -> Result<(), BodyError> {
    put_len(dst, chunk.len())?;
    dst.extend_from_slice(chunk);
    Ok(())
}

/// Bounds-checked reader of `int32 len | bytes` sections.
struct Chunks<'a> {
    buf: &'a [u8],
}

impl<'a> Chunks<'a> {
    fn count(&mut self) -> Result<usize, BodyError> {
        let (head, tail) = self
            .buf
            .split_first_chunk::<4>()
            .ok_or_else(|| BodyError::Compressed("truncated length".into()))?;
        self.buf = tail;
        usize::try_from(i32::from_be_bytes(*head))
            .map_err(|_| BodyError::Compressed("negative length".into()))
    }

    fn chunk(&mut self) -> Result<&'a [u8], BodyError> {
        let n = self.count()?;
        if n > self.buf.len() {
            return Err(BodyError::Compressed("truncated section".into()));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::{decode, encode};

    const JAVA: &str = r#"{"filterServerList":[],"topicConfigSerializeWrapper":{"dataVersion":{"counter":3,"stateVersion":0,"timestamp":1700000000000},"topicConfigTable":{"TopicTest":{"attributes":{},"order":false,"perm":6,"readQueueNums":4,"topicFilterType":"SINGLE_TAG","topicName":"TopicTest","topicSysFlag":0,"writeQueueNums":4}}}}"#;

    #[test]
    fn java_body_round_trips_byte_for_byte() {
        let b: RegisterBrokerBody = decode(JAVA.as_bytes()).unwrap();
        let tc = &b.topic_config_serialize_wrapper.topic_config_table["TopicTest"];
        assert_eq!(tc.read_queue_nums, 4);
        assert_eq!(String::from_utf8(encode(&b)).unwrap(), JAVA);
    }

    #[test]
    fn four_x_data_version_without_state_version() {
        let d: DataVersion = decode(br#"{"counter":2,"timestamp":5}"#).unwrap();
        assert_eq!((d.counter, d.state_version, d.timestamp), (2, 0, 5));
    }

    #[test]
    fn compressed_round_trip() {
        let mut b: RegisterBrokerBody = decode(JAVA.as_bytes()).unwrap();
        let tc = TopicConfig {
            topic_name: "T2".into(),
            topic_filter_type: TopicFilterType::MultiTag,
            attributes: [("+queue.type".to_owned(), "Normal".to_owned())].into(),
            ..TopicConfig::default()
        };
        b.topic_config_serialize_wrapper
            .topic_config_table
            .insert("T2".into(), tc);
        let z = b.encode_compressed().unwrap();
        assert_eq!(z.first(), Some(&0x78), "zlib header");
        assert_eq!(RegisterBrokerBody::decode(&z, true).unwrap(), b);
        assert!(RegisterBrokerBody::decode(&z[..z.len() / 2], true).is_err());
        assert!(RegisterBrokerBody::decode(b"not zlib", true).is_err());
    }

    #[test]
    fn topic_text_form() {
        let tc = TopicConfig::from_text("T 8 4 6 SINGLE_TAG").unwrap();
        assert_eq!((tc.read_queue_nums, tc.write_queue_nums), (8, 4));
        assert!(TopicConfig::from_text("T 8 x 6 SINGLE_TAG").is_err());
        assert!(TopicConfig::from_text("T 8").is_err());
    }
}
