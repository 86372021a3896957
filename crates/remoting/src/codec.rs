//! [`RemotingCodec`]: the protocol frame codec as a `tokio_util` `Decoder`/`Encoder`.

use bytes::BytesMut;
use saturn_protocol::command::RemotingCommand;
use saturn_protocol::frame::{decode_frame, encode_frame, DEFAULT_MAX_FRAME_LEN};
use tokio_util::codec::{Decoder, Encoder};

use crate::error::RemotingError;

/// Splits a byte stream into [`RemotingCommand`]s and joins them back, enforcing a maximum frame
/// length in both directions so one peer cannot make us buffer (or send) an unbounded frame.
#[derive(Debug, Clone, Copy)]
pub struct RemotingCodec {
    max_frame_len: usize,
}

impl RemotingCodec {
    /// A codec that accepts frames up to `max_frame_len` bytes (length prefix included, as Java
    /// counts it).
    pub fn new(max_frame_len: usize) -> Self {
        Self { max_frame_len }
    }

    /// The configured limit.
    pub fn max_frame_len(&self) -> usize {
        self.max_frame_len
    }
}

impl Default for RemotingCodec {
    /// 16 MiB, the Java default (`com.rocketmq.remoting.frameMaxLength`).
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FRAME_LEN)
    }
}

impl Decoder for RemotingCodec {
    type Item = RemotingCommand;
    type Error = RemotingError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<RemotingCommand>, RemotingError> {
        Ok(decode_frame(src, self.max_frame_len)?)
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<RemotingCommand>, RemotingError> {
        match self.decode(src)? {
            Some(cmd) => Ok(Some(cmd)),
            None if src.is_empty() => Ok(None),
            None => Err(RemotingError::TruncatedFrame {
                buffered: src.len(),
            }),
        }
    }
}

impl Encoder<RemotingCommand> for RemotingCodec {
    type Error = RemotingError;

    fn encode(&mut self, cmd: RemotingCommand, dst: &mut BytesMut) -> Result<(), RemotingError> {
        <Self as Encoder<&RemotingCommand>>::encode(self, &cmd, dst)
    }
}

impl Encoder<&RemotingCommand> for RemotingCodec {
    type Error = RemotingError;

    /// On error nothing is left in `dst`, so the stream stays aligned on frame boundaries and the
    /// caller may drop just this command.
    fn encode(&mut self, cmd: &RemotingCommand, dst: &mut BytesMut) -> Result<(), RemotingError> {
        let start = dst.len();
        if let Err(e) = encode_frame(cmd, dst) {
            dst.truncate(start);
            return Err(e.into());
        }
        let len = dst.len().saturating_sub(start);
        if len > self.max_frame_len {
            dst.truncate(start);
            return Err(RemotingError::FrameTooLarge {
                len,
                max: self.max_frame_len,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use bytes::{BufMut, Bytes};
    use saturn_protocol::command::SerializeType;
    use saturn_protocol::ext::ExtFields;
    use saturn_protocol::frame::FrameError;

    use super::*;

    fn request() -> RemotingCommand {
        let mut ext = ExtFields::new();
        ext.insert("topic", "TopicTest");
        RemotingCommand::new_request(105, ext)
            .with_opaque(7)
            .with_body(Bytes::from_static(b"body"))
    }

    #[test]
    fn round_trips_both_forms_and_waits_for_whole_frames() {
        for form in [SerializeType::Json, SerializeType::RocketMq] {
            let mut codec = RemotingCodec::default();
            let cmd = request().with_serialize_type(form);
            let mut buf = BytesMut::new();
            codec.encode(cmd.clone(), &mut buf).unwrap();
            let whole = buf.split();
            let (head, tail) = whole.split_at(whole.len() - 1);
            buf.extend_from_slice(head);
            assert!(
                codec.decode(&mut buf).unwrap().is_none(),
                "one byte missing"
            );
            buf.extend_from_slice(tail);
            assert_eq!(codec.decode(&mut buf).unwrap(), Some(cmd));
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn huge_length_prefix_is_refused_from_four_bytes() {
        for prefix in [0x7FFF_FFFFu32, 0x8000_0000, 0x0100_0000] {
            let mut buf = BytesMut::from(&prefix.to_be_bytes()[..]);
            let err = RemotingCodec::default().decode(&mut buf).unwrap_err();
            assert!(err.is_frame_error(), "{prefix:#x}: {err}");
        }
    }

    #[test]
    fn header_length_beyond_the_frame_is_refused() {
        let mut buf = BytesMut::new();
        buf.put_i32(8);
        buf.put_u32(100);
        buf.put_slice(b"abcd");
        let err = RemotingCodec::default().decode(&mut buf).unwrap_err();
        assert!(
            matches!(
                err,
                RemotingError::Frame(FrameError::BadHeaderLength {
                    header_len: 100,
                    ..
                })
            ),
            "{err:?}"
        );
    }

    #[test]
    fn eof_inside_a_frame_is_an_error_and_clean_eof_is_not() {
        let mut codec = RemotingCodec::default();
        let mut buf = BytesMut::new();
        codec.encode(request(), &mut buf).unwrap();
        buf.truncate(buf.len() - 2);
        let err = codec.decode_eof(&mut buf).unwrap_err();
        assert!(
            matches!(err, RemotingError::TruncatedFrame { .. }),
            "{err:?}"
        );
        assert_eq!(codec.decode_eof(&mut BytesMut::new()).unwrap(), None);
    }

    #[test]
    fn unencodable_commands_leave_the_buffer_untouched() {
        let mut codec = RemotingCodec::new(64);
        let mut buf = BytesMut::from(&b"queued"[..]);
        let big = request().with_body(Bytes::from(vec![0u8; 100]));
        let err = codec.encode(big, &mut buf).unwrap_err();
        assert!(
            matches!(err, RemotingError::FrameTooLarge { max: 64, .. }),
            "{err:?}"
        );
        // Codes above 32767 do not fit the binary header.
        let pop = RemotingCommand::new_request(200_050, ExtFields::new())
            .with_serialize_type(SerializeType::RocketMq);
        assert!(RemotingCodec::default()
            .encode(pop, &mut buf)
            .unwrap_err()
            .is_frame_error());
        assert_eq!(&buf[..], b"queued");
    }
}
