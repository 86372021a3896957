//! Property tests: frames round-trip in both header forms, whole or fed in pieces.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use saturn_protocol::command::LanguageCode;
use saturn_protocol::frame::FrameError;
use saturn_protocol::{
    decode_frame, encode_frame, ExtFields, RemotingCommand, SerializeType, DEFAULT_MAX_FRAME_LEN,
};

fn known_language() -> impl Strategy<Value = LanguageCode> {
    (0u8..14).prop_map(LanguageCode::from_byte)
}

fn language(st: SerializeType) -> BoxedStrategy<LanguageCode> {
    match st {
        // Unknown names survive JSON; unknown bytes survive binary.
        SerializeType::Json => prop_oneof![
            known_language(),
            "[A-Z_]{1,10}".prop_map(|n| LanguageCode::from_name(&n))
        ]
        .boxed(),
        SerializeType::RocketMq => prop_oneof![
            known_language(),
            (14u8..=255).prop_map(LanguageCode::from_byte)
        ]
        .boxed(),
    }
}

fn command(st: SerializeType) -> impl Strategy<Value = RemotingCommand> {
    let (code, version) = match st {
        SerializeType::Json => (any::<i32>().boxed(), any::<i32>().boxed()),
        SerializeType::RocketMq => (
            any::<i16>().prop_map(i32::from).boxed(),
            any::<i16>().prop_map(i32::from).boxed(),
        ),
    };
    let value = match st {
        SerializeType::Json => any::<String>().boxed(),
        SerializeType::RocketMq => "\\PC{1,20}".boxed(),
    };
    (
        code,
        language(st),
        version,
        any::<i32>(),
        any::<i32>(),
        proptest::option::of("\\PC{1,40}"),
        proptest::collection::vec(
            (any::<String>().prop_filter("key", |k| !k.is_empty()), value),
            0..8,
        ),
        proptest::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(
            move |(code, language, version, opaque, flag, remark, ext, body)| RemotingCommand {
                code,
                language,
                version,
                opaque,
                flag,
                remark,
                ext_fields: ext.into_iter().collect::<ExtFields>(),
                body: Bytes::from(body),
                body_chunks: Vec::new(),
                serialize_type: st,
            },
        )
}

fn any_command() -> impl Strategy<Value = RemotingCommand> {
    prop_oneof![
        command(SerializeType::Json),
        command(SerializeType::RocketMq)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn round_trip(cmd in any_command()) {
        let mut buf = BytesMut::new();
        encode_frame(&cmd, &mut buf).unwrap();
        let back = decode_frame(&mut buf, DEFAULT_MAX_FRAME_LEN).unwrap().unwrap();
        prop_assert_eq!(back, cmd);
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn split_anywhere(cmds in proptest::collection::vec(any_command(), 1..4), cut in any::<prop::sample::Index>()) {
        let mut wire = BytesMut::new();
        for c in &cmds {
            encode_frame(c, &mut wire).unwrap();
        }
        let cut = cut.index(wire.len() + 1);
        let mut buf = BytesMut::from(&wire[..cut]);
        let mut got = Vec::new();
        while let Some(c) = decode_frame(&mut buf, DEFAULT_MAX_FRAME_LEN).unwrap() {
            got.push(c);
        }
        buf.extend_from_slice(&wire[cut..]);
        while let Some(c) = decode_frame(&mut buf, DEFAULT_MAX_FRAME_LEN).unwrap() {
            got.push(c);
        }
        prop_assert_eq!(got, cmds);
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn limit_is_enforced(cmd in any_command()) {
        let mut buf = BytesMut::new();
        encode_frame(&cmd, &mut buf).unwrap();
        let len = buf.len();
        // Exactly the frame size passes, one byte less fails (without needing the whole frame).
        let mut exact = buf.clone();
        prop_assert!(decode_frame(&mut exact, len).unwrap().is_some());
        let mut head = BytesMut::from(&buf[..4]);
        let too_long = matches!(decode_frame(&mut head, len - 1), Err(FrameError::TooLong { .. }));
        prop_assert!(too_long);
    }

    #[test]
    fn response_keeps_request_form(cmd in any_command(), code in any::<i16>()) {
        let resp = cmd.response_to(i32::from(code), None);
        prop_assert_eq!(resp.serialize_type, cmd.serialize_type);
        prop_assert_eq!(resp.opaque, cmd.opaque);
        prop_assert!(resp.is_response() && !resp.is_oneway());
        let mut buf = BytesMut::new();
        encode_frame(&resp, &mut buf).unwrap();
        prop_assert_eq!(decode_frame(&mut buf, DEFAULT_MAX_FRAME_LEN).unwrap().unwrap(), resp);
    }
}
