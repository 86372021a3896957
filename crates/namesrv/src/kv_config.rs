//! In-memory KV configuration (PUT/GET/DELETE_KV_CONFIG, GET_KVLIST_BY_NAMESPACE): string values
//! grouped by namespace. Not persisted: admin tools re-apply what they need after a restart.

use std::collections::BTreeMap;

use saturn_protocol::body::KvTable;

/// Namespace whose table is returned to every registering broker (Java
/// `NamesrvUtil.NAMESPACE_ORDER_TOPIC_CONFIG`).
pub const ORDER_TOPIC_CONFIG: &str = "ORDER_TOPIC_CONFIG";

/// Namespace → key → value.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct KvConfig {
    namespaces: BTreeMap<String, BTreeMap<String, String>>,
}

impl KvConfig {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `namespace`/`key` to `value`, returning the previous value.
    pub fn put(&mut self, namespace: &str, key: &str, value: &str) -> Option<String> {
        self.namespaces
            .entry(namespace.to_owned())
            .or_default()
            .insert(key.to_owned(), value.to_owned())
    }

    /// The value of `namespace`/`key`.
    pub fn get(&self, namespace: &str, key: &str) -> Option<&str> {
        self.namespaces.get(namespace)?.get(key).map(String::as_str)
    }

    /// Removes `namespace`/`key` (an emptied namespace disappears), returning the old value.
    pub fn delete(&mut self, namespace: &str, key: &str) -> Option<String> {
        let table = self.namespaces.get_mut(namespace)?;
        let old = table.remove(key);
        if table.is_empty() {
            self.namespaces.remove(namespace);
        }
        old
    }

    /// A whole namespace, or `None` when it holds nothing.
    pub fn namespace(&self, namespace: &str) -> Option<KvTable> {
        self.namespaces.get(namespace).map(|table| KvTable {
            table: table.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_get_delete() {
        let mut kv = KvConfig::new();
        assert_eq!(kv.get("ns", "k"), None);
        assert_eq!(kv.put("ns", "k", "v1"), None);
        assert_eq!(kv.put("ns", "k", "v2").as_deref(), Some("v1"));
        assert_eq!(kv.get("ns", "k"), Some("v2"));
        assert_eq!(kv.get("other", "k"), None);
        assert_eq!(kv.namespace("ns").map(|t| t.table.len()), Some(1));
        assert_eq!(kv.delete("ns", "k").as_deref(), Some("v2"));
        assert_eq!(kv.namespace("ns"), None);
        assert_eq!(kv.delete("ns", "k"), None);
    }
}
