//! Arbitrary bytes into the frame decoder (both header forms) and the typed header parsers.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use saturn_protocol::header::*;
use saturn_protocol::{decode_frame, encode_frame};

fuzz_target!(|data: &[u8]| {
    let mut buf = BytesMut::from(data);
    while let Ok(Some(cmd)) = decode_frame(&mut buf, 1 << 20) {
        let _ = SendMessageRequest::from_command(&cmd);
        let _ = PullMessageRequest::from_ext(&cmd.ext_fields);
        let _ = RegisterBrokerRequest::from_ext(&cmd.ext_fields);
        let _ = EndTransactionRequest::from_ext(&cmd.ext_fields);
        // Whatever decoded must encode and decode to itself.
        let mut out = BytesMut::new();
        if encode_frame(&cmd, &mut out).is_ok() {
            let again = decode_frame(&mut out, usize::MAX);
            assert!(matches!(again, Ok(Some(_))), "re-decode failed");
        }
    }
});
