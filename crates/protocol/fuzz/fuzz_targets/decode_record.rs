//! Arbitrary bytes into the stored-message record decoder (commit log / pull bodies).
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use saturn_protocol::message::record;

fuzz_target!(|data: &[u8]| {
    let buf = Bytes::copy_from_slice(data);
    if let Ok((_msg, used)) = record::decode(&buf) {
        assert!(used <= buf.len(), "consumed more than the input");
    }
    let _ = record::decode_all(&buf);
});
