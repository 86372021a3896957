//! Loading configuration files: the broker's (TOML or RocketMQ `broker.conf` properties) and the
//! name server's (TOML). Command-line flags are applied on top by the subcommands.

use std::path::Path;

use anyhow::Context;
use saturn_broker::BrokerConfig;
use saturn_namesrv::NamesrvConfig;

/// The two syntaxes a broker config file may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSyntax {
    /// TOML with snake_case keys (`broker_name = "broker-a"`).
    Toml,
    /// RocketMQ `broker.conf`: Java properties with camelCase keys (`brokerName=broker-a`).
    Properties,
}

/// Guesses the syntax of a broker config file: by extension first (`.toml`; `.conf` and
/// `.properties`), otherwise by content: text that parses as TOML is TOML, text whose every
/// meaningful line is `key=value` (or `key: value`) is properties.
pub fn detect_syntax(path: &Path, text: &str) -> ConfigSyntax {
    match path.extension().and_then(|e| e.to_str()) {
        Some("toml") => return ConfigSyntax::Toml,
        Some("conf") | Some("properties") => return ConfigSyntax::Properties,
        _ => {}
    }
    if text.parse::<toml::Table>().is_ok() {
        return ConfigSyntax::Toml;
    }
    let looks_like_properties = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('!'))
        .all(|l| l.contains('=') || l.contains(':'));
    if looks_like_properties {
        ConfigSyntax::Properties
    } else {
        // Neither: report TOML's (more precise) parse error.
        ConfigSyntax::Toml
    }
}

/// Reads a broker config file in either syntax (see [`detect_syntax`]).
///
/// # Errors
/// When the file cannot be read or does not parse.
pub fn load_broker_config(path: &Path) -> anyhow::Result<BrokerConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read broker config {}", path.display()))?;
    let syntax = detect_syntax(path, &text);
    let config = match syntax {
        ConfigSyntax::Toml => BrokerConfig::from_toml(&text),
        ConfigSyntax::Properties => BrokerConfig::from_properties(&text),
    }
    .with_context(|| format!("bad broker config {} (read as {syntax:?})", path.display()))?;
    tracing::info!(path = %path.display(), ?syntax, "broker config loaded");
    Ok(config)
}

/// Reads a name server config file (TOML, snake_case keys; missing keys take defaults).
///
/// # Errors
/// When the file cannot be read or does not parse.
pub fn load_namesrv_config(path: &Path) -> anyhow::Result<NamesrvConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read name server config {}", path.display()))?;
    let config: NamesrvConfig = toml::from_str(&text)
        .with_context(|| format!("bad name server config {}", path.display()))?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_decides_first() {
        assert_eq!(
            detect_syntax(Path::new("broker.conf"), "a = 1"),
            ConfigSyntax::Properties
        );
        assert_eq!(
            detect_syntax(Path::new("b.properties"), ""),
            ConfigSyntax::Properties
        );
        assert_eq!(
            detect_syntax(Path::new("b.toml"), "brokerName=x"),
            ConfigSyntax::Toml
        );
    }

    #[test]
    fn content_decides_without_a_known_extension() {
        let props = "# comment\nbrokerClusterName=DefaultCluster\nbrokerName=broker-a\n";
        assert_eq!(
            detect_syntax(Path::new("broker.cfg"), props),
            ConfigSyntax::Properties
        );
        let toml = "broker_name = \"broker-a\"\nnamesrv_addrs = [\"127.0.0.1:9876\"]\n";
        assert_eq!(
            detect_syntax(Path::new("broker.cfg"), toml),
            ConfigSyntax::Toml
        );
    }

    #[test]
    fn properties_file_loads_through_the_broker_mapping() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broker.conf");
        std::fs::write(
            &path,
            "brokerName=broker-x\nnamesrvAddr=127.0.0.1:1;127.0.0.1:2\nlistenPort=12345\n",
        )
        .unwrap();
        let c = load_broker_config(&path).unwrap();
        assert_eq!(c.broker_name, "broker-x");
        assert_eq!(c.namesrv_addrs, vec!["127.0.0.1:1", "127.0.0.1:2"]);
        assert_eq!(c.listen.port(), 12345);
    }

    #[test]
    fn toml_file_loads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broker.toml");
        std::fs::write(&path, "broker_name = \"b2\"\ncluster = \"C\"\n").unwrap();
        let c = load_broker_config(&path).unwrap();
        assert_eq!((c.broker_name.as_str(), c.cluster.as_str()), ("b2", "C"));
        assert!(load_broker_config(&dir.path().join("missing.toml")).is_err());
    }
}
