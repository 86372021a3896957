//! Property tests: every typed header survives `to_ext → from_ext`, and the full trip through a
//! frame in both header forms; missing required keys are reported by their Java name.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use bytes::BytesMut;
use proptest::prelude::*;
use saturn_protocol::header::CommandHeader;
use saturn_protocol::{
    decode_frame, encode_frame, ExtFields, HeaderError, RemotingCommand, SerializeType,
    DEFAULT_MAX_FRAME_LEN,
};

fn check_round_trip<H: CommandHeader + PartialEq + std::fmt::Debug>(ext: &ExtFields) {
    let h = H::from_ext(ext).expect("valid ext must decode");
    let out = h.to_ext();
    assert!(
        common::same_entries(&out, ext),
        "to_ext changed the entries: {out:?} vs {ext:?}"
    );
    assert_eq!(H::from_ext(&out).unwrap(), h);
}

fn check_missing<H: CommandHeader + std::fmt::Debug>(ext: &ExtFields) {
    for f in H::FIELDS.iter().filter(|f| f.required) {
        let mut e = ext.clone();
        e.remove(f.key);
        assert_eq!(
            H::from_ext(&e).unwrap_err(),
            HeaderError::MissingField { field: f.key }
        );
    }
}

fn check_invalid<H: CommandHeader + std::fmt::Debug>(ext: &ExtFields) {
    use saturn_protocol::header::FieldKind;
    for f in H::FIELDS.iter().filter(|f| f.kind != FieldKind::Str) {
        let mut e = ext.clone();
        e.insert(f.key, "not-a-value");
        assert!(matches!(
            H::from_ext(&e),
            Err(HeaderError::InvalidField { field, .. }) if field == f.key
        ));
    }
}

fn check_through_frame<H: CommandHeader + PartialEq + std::fmt::Debug>(ext: ExtFields) {
    let h = H::from_ext(&ext).unwrap();
    for st in [SerializeType::Json, SerializeType::RocketMq] {
        let cmd = RemotingCommand::new_request(10, h.to_ext()).with_serialize_type(st);
        let mut buf = BytesMut::new();
        encode_frame(&cmd, &mut buf).unwrap();
        let back = decode_frame(&mut buf, DEFAULT_MAX_FRAME_LEN)
            .unwrap()
            .unwrap();
        assert_eq!(H::from_ext(&back.ext_fields).unwrap(), h, "{st:?}");
    }
}

macro_rules! header_tests {
    ($ty:ident) => {
        #[allow(non_snake_case)]
        mod $ty {
            use super::*;
            proptest! {
                #![proptest_config(ProptestConfig::with_cases(64))]
                #[test]
                fn round_trip(ext in common::ext_for::<saturn_protocol::header::$ty>(false)) {
                    check_round_trip::<saturn_protocol::header::$ty>(&ext);
                    check_missing::<saturn_protocol::header::$ty>(&ext);
                    check_invalid::<saturn_protocol::header::$ty>(&ext);
                }

                #[test]
                fn through_frame(ext in common::ext_for::<saturn_protocol::header::$ty>(true)) {
                    check_through_frame::<saturn_protocol::header::$ty>(ext);
                }
            }
        }
    };
}

for_each_header!(header_tests);

proptest! {
    #[test]
    fn send_v1_v2_conversion_is_lossless(ext in common::ext_for::<saturn_protocol::header::SendMessageRequest>(false)) {
        use saturn_protocol::header::{SendMessageRequest, SendMessageRequestV2};
        let v1 = SendMessageRequest::from_ext(&ext).unwrap();
        let v2 = SendMessageRequestV2::from(v1.clone());
        let back = SendMessageRequestV2::from_ext(&v2.to_ext()).unwrap();
        prop_assert_eq!(SendMessageRequest::from(back), v1);
    }
}
