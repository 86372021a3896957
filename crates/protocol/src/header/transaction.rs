//! Transaction headers: END_TRANSACTION (37, producer → broker) and CHECK_TRANSACTION_STATE
//! (39, broker → producer).

use super::command_header;

/// `commitOrRollback`: no decision yet (the broker takes no action).
pub const TRANSACTION_NOT_TYPE: i32 = 0;
/// `commitOrRollback`: commit.
pub const TRANSACTION_COMMIT_TYPE: i32 = 8;
/// `commitOrRollback`: roll back.
pub const TRANSACTION_ROLLBACK_TYPE: i32 = 12;

command_header! {
    /// `EndTransactionRequestHeader` (usually oneway).
    pub struct EndTransactionRequest {
        /// Producer group.
        producer_group: String => "producerGroup",
        /// Queue offset of the half message.
        tran_state_table_offset: i64 => "tranStateTableOffset",
        /// Commit-log offset of the half message.
        commit_log_offset: i64 => "commitLogOffset",
        /// [`TRANSACTION_NOT_TYPE`], [`TRANSACTION_COMMIT_TYPE`] or [`TRANSACTION_ROLLBACK_TYPE`].
        commit_or_rollback: i32 => "commitOrRollback",
        /// True when answering a CHECK_TRANSACTION_STATE.
        from_transaction_check: Option<bool> => "fromTransactionCheck",
        /// UNIQ_KEY of the half message.
        msg_id: String => "msgId",
        /// Transaction id.
        transaction_id: Option<String> => "transactionId",
        /// Topic (5.x).
        topic: Option<String> => "topic",
    }
}

command_header! {
    /// `CheckTransactionStateRequestHeader` (oneway; body = the half message record).
    pub struct CheckTransactionStateRequest {
        /// Queue offset of the half message.
        tran_state_table_offset: i64 => "tranStateTableOffset",
        /// Commit-log offset of the half message.
        commit_log_offset: i64 => "commitLogOffset",
        /// UNIQ_KEY of the half message.
        msg_id: Option<String> => "msgId",
        /// Transaction id (Java broker: same as `msgId`).
        transaction_id: Option<String> => "transactionId",
        /// Offset msgId of the half record.
        offset_msg_id: Option<String> => "offsetMsgId",
        /// Topic (5.x).
        topic: Option<String> => "topic",
        /// Broker name (5.x).
        broker_name: Option<String> => "bname",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ext::ExtFields;
    use crate::header::CommandHeader;

    #[test]
    fn rust_client_end_transaction() {
        let ext: ExtFields = [
            ("producerGroup", "pg"),
            ("tranStateTableOffset", "0"),
            ("commitLogOffset", "1234"),
            ("commitOrRollback", "8"),
            ("fromTransactionCheck", "false"),
            ("msgId", "7F0000010000"),
        ]
        .into_iter()
        .collect();
        let h = EndTransactionRequest::from_ext(&ext).unwrap();
        assert_eq!(h.commit_or_rollback, TRANSACTION_COMMIT_TYPE);
        assert_eq!(h.commit_log_offset, 1234);
        assert_eq!(h.to_ext(), ext);
    }
}
